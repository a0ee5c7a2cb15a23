"""Model configuration: one frozen dataclass, presets for the published sizes.

The model is defined by this config alone, so a checkpoint stores it as JSON next to the
weights and every later stage (train, evaluate, export) rebuilds the same module from it.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

from tinymyo_jax.models.normalization import NORMALIZATIONS

RopeMode = Literal["time", "time_channel", "reference", "none"]
HeadKind = Literal["none", "reconstruction", "classification", "regression"]
Fusion = Literal["concat", "mean"]

ROPE_MODES: tuple[str, ...] = ("time", "time_channel", "reference", "none")
HEAD_KINDS: tuple[str, ...] = ("none", "reconstruction", "classification", "regression")
FUSIONS: tuple[str, ...] = ("concat", "mean")
CHANNEL_EMBEDDINGS: tuple[str, ...] = ("none", "learned")
# Rows of the learned channel embedding: the channel count windows are padded to
# (data.signal.MAX_CHANNELS; the models package does not import the data package).
CHANNEL_EMBEDDING_ROWS = 16


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything that defines a TinyMyo module.

    rope: "time" rotates each token by its patch index within its channel (our default: the
        model knows *when* a patch happened, and simultaneous patches of different channels
        share a position); "reference" reproduces the published PyTorch code, which rotates by
        head index and therefore carries no positional information; "none" disables RoPE;
        "time_channel" is 2-D axial RoPE: most rotary pairs of each head turn with the patch
        index, the slowest quarter with the channel index (models/rope.py, docs/model.md).
    normalization: the input normalisation the weights were trained with
        (models/normalization.py: minmax_channel | window_scale | none). Not part of the
        module's computation: stored here so probe, fine-tune and export apply the same one.
        Pretraining sets it from config.data.normalization; reference imports from what the
        reference trained on (models/torch_io.infer_config); "none" = the input as given.
    input_rate_hz: the sampling rate (Hz) of the windows the weights were trained on; None:
        unknown (reference imports, checkpoints from before the field, data of mixed rates).
        Like normalization not part of the computation: a patch of patch_size samples spans
        patch_size / rate seconds, so probe and fine-tune say when they feed another rate
        (evaluate/encoders.rate_mismatch). Pretraining sets it from its mixture's prepared
        windows, fine-tuning from its benchmark's.
    channel_embedding: "none" (the reference: tokens carry no channel identity) or "learned": a
        learned vector per channel index (CHANNEL_EMBEDDING_ROWS rows) added to every token of
        that channel after mask-token substitution, so patch and mask tokens know their channel
        (docs/model.md). The reference has no such parameter: "none" loads and saves its
        weights unchanged.
    num_channels: needed only by `concat` fusion heads, whose linear input is C·D wide.
    dropout: the rate after the attention projection and inside the MLP (the reference's
        `proj_drop`); attention_dropout acts on the attention weights; drop_path is stochastic
        depth with the same constant rate in every block, as in the reference.
    """

    embed_dim: int = 192
    depth: int = 8
    num_heads: int = 3
    patch_size: int = 20
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    dropout: float = 0.1
    attention_dropout: float = 0.1
    drop_path: float = 0.1
    rope: RopeMode = "time"
    rope_base: float = 10_000.0
    channel_embedding: str = "none"
    normalization: str = "none"
    input_rate_hz: float | None = None
    layer_norm_eps: float = 1e-5  # PyTorch's LayerNorm default; flax's is 1e-6
    head: HeadKind = "reconstruction"
    num_outputs: int = 0  # classes (classification) or target dimensions (regression)
    num_channels: int | None = None
    fusion: Fusion = "concat"
    head_dropout: float = 0.1  # regression head, after its first conv (reference value)
    reg_hidden_dim: int = 256
    reg_target_len: int = 500

    def __post_init__(self) -> None:
        problems = []
        if self.rope not in ROPE_MODES:
            problems.append(f"rope must be one of {ROPE_MODES}, got {self.rope!r}")
        if self.channel_embedding not in CHANNEL_EMBEDDINGS:
            problems.append(f"channel_embedding must be one of {CHANNEL_EMBEDDINGS}, got {self.channel_embedding!r}")
        if self.normalization not in NORMALIZATIONS:
            problems.append(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.input_rate_hz is not None and not 0 < self.input_rate_hz < float("inf"):
            problems.append(f"input_rate_hz must be a positive rate in Hz or None, got {self.input_rate_hz!r}")
        if self.head not in HEAD_KINDS:
            problems.append(f"head must be one of {HEAD_KINDS}, got {self.head!r}")
        if self.fusion not in FUSIONS:
            problems.append(f"fusion must be one of {FUSIONS}, got {self.fusion!r}")
        if self.embed_dim % self.num_heads:
            problems.append(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        elif (self.embed_dim // self.num_heads) % 2 and self.rope != "none":
            problems.append("RoPE rotates pairs of features: the head dimension must be even")
        elif self.rope == "time_channel" and self.embed_dim // self.num_heads < 4:
            problems.append("time_channel RoPE needs a head dimension >= 4 (rotary pairs for both axes)")
        if self.head in ("classification", "regression"):
            if self.num_outputs <= 0:
                problems.append(f"a {self.head} head needs num_outputs > 0")
            if self.fusion == "concat" and not self.num_channels:
                problems.append("concat fusion needs num_channels (its input is num_channels·embed_dim wide)")
        if problems:
            raise ValueError("invalid ModelConfig: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def mlp_hidden_dim(self) -> int:
        return int(self.embed_dim * self.mlp_ratio)

    def replace(self, **changes: Any) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        fields = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {unknown}")
        return cls(**fields)


PRESETS: dict[str, dict[str, Any]] = {
    # The published model: 8 blocks, dim 192, 3 heads -> 3,563,520 encoder parameters.
    "tinymyo": dict(embed_dim=192, depth=8, num_heads=3),
    # The paper's smaller sibling: same width, half the depth.
    "tinyissimo": dict(embed_dim=192, depth=4, num_heads=3),
}


# The one home of the model's defaults, as an object the run configs read: the pretraining config
# (train/config.py) names its two differences (rope, channel_embedding) and why; the probe and
# fine-tune configs (evaluate/config.py) take the random encoder's architecture and the
# fine-tuning dropout rates from here.
DEFAULTS = ModelConfig()


def preset(name: str, **overrides: Any) -> ModelConfig:
    """A published architecture (`tinymyo`, `tinyissimo`) with optional field overrides."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; choose from {sorted(PRESETS)}")
    return ModelConfig(**{**PRESETS[name], **overrides})


def from_run_config(config: Any, *, base: ModelConfig | None = None, **fields: Any) -> ModelConfig:
    """The one builder of a run's ModelConfig (pretraining, a random encoder, fine-tuning).

    The architecture is `base` (a loaded encoder's config) or, without one, the run config's
    `config.model`: its preset, the non-zero size overrides (embed_dim, depth, num_heads; 0
    keeps the preset's), its rope and its channel embedding. `fields` set the rest (head, normalisation, dropout
    rates, ...). Raises ValueError for an unknown preset or fields that do not fit together.
    """
    if base is None:
        model = config.model
        sizes = {name: model[name] for name in ("embed_dim", "depth", "num_heads") if model[name]}
        # configs written before the channel embedding existed have no such field: none
        base = preset(model.preset, rope=model.rope, channel_embedding=model.get("channel_embedding", "none"), **sizes)
    return base.replace(**fields)

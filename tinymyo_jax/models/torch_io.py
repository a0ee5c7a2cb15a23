"""Reference PyTorch checkpoints (safetensors, reference key names) in and out, without torch.

The key map below is the single statement of how reference tensors correspond to our
parameters; loading and saving both walk it, so a round trip is exact by construction and
any key the map does not produce is reported by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import jax.numpy as jnp
import numpy as np
from flax import nnx
from safetensors.numpy import load_file, save_file

from tinymyo_jax.errors import UserError
from tinymyo_jax.models.checkpoint_checks import check_safetensors_header
from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.tinymyo import TinyMyo

RELEASE_PREFIX = "model."


class CheckpointMismatchError(UserError):
    """A reference checkpoint that does not fit the model: names the offending key."""


@dataclass(frozen=True)
class _TensorLayout:
    """How one reference tensor maps onto one of our parameters."""

    to_ours: Callable[[np.ndarray], np.ndarray]
    to_torch: Callable[[np.ndarray], np.ndarray]


_SAME = _TensorLayout(lambda a: a, lambda a: a)
_LINEAR = _TensorLayout(lambda w: w.T, lambda k: k.T)  # torch (out, in) <-> flax (in, out)
_PATCH = _TensorLayout(lambda w: w[:, 0, 0, :].T, lambda k: k.T[:, None, None, :])  # Conv2d (D,1,1,ps)
_CONV1D = _TensorLayout(lambda w: w.transpose(2, 1, 0), lambda k: k.transpose(2, 1, 0))  # (out,in,k) <-> (k,in,out)
_TOKEN = _TensorLayout(lambda t: t.reshape(-1), lambda t: t.reshape(1, 1, -1))  # mask_token (1,1,D) <-> (D,)


def _linear_keys(torch_name: str, path: tuple) -> list[tuple[str, tuple, _TensorLayout]]:
    return [(f"{torch_name}.weight", path + ("kernel",), _LINEAR), (f"{torch_name}.bias", path + ("bias",), _SAME)]


def _norm_keys(torch_name: str, path: tuple) -> list[tuple[str, tuple, _TensorLayout]]:
    return [(f"{torch_name}.weight", path + ("scale",), _SAME), (f"{torch_name}.bias", path + ("bias",), _SAME)]


def key_map(config: ModelConfig) -> list[tuple[str, tuple, _TensorLayout]]:
    """(reference key, attribute path in our model, layout) for every parameter."""
    entries: list[tuple[str, tuple, _TensorLayout]] = [
        ("mask_token", ("encoder", "mask_token"), _TOKEN),
        ("patch_embedding.patch_embed.proj.weight", ("encoder", "patch_embed", "proj", "kernel"), _PATCH),
        ("patch_embedding.patch_embed.proj.bias", ("encoder", "patch_embed", "proj", "bias"), _SAME),
    ]
    for i in range(config.depth):
        ours = ("encoder", "blocks", i)
        entries += _norm_keys(f"blocks.{i}.norm1", ours + ("norm1",))
        entries += _norm_keys(f"blocks.{i}.norm2", ours + ("norm2",))
        qkv = _linear_keys(f"blocks.{i}.attn.qkv", ours + ("attn", "qkv"))
        entries += qkv if config.qkv_bias else qkv[:1]
        entries += _linear_keys(f"blocks.{i}.attn.proj", ours + ("attn", "proj"))
        entries += _linear_keys(f"blocks.{i}.mlp.fc1", ours + ("mlp", "fc1"))
        entries += _linear_keys(f"blocks.{i}.mlp.fc2", ours + ("mlp", "fc2"))
    entries += _norm_keys("norm", ("encoder", "norm"))
    if config.head == "reconstruction":
        entries += _linear_keys("model_head.decoder_pred", ("head", "decoder_pred"))
    elif config.head == "classification":
        entries += _linear_keys("model_head.classifier", ("head", "classifier"))
    elif config.head == "regression":
        for index, name in ((0, "conv_in"), (3, "conv_depthwise"), (5, "conv_out")):
            entries += [
                (f"model_head.regressor.{index}.weight", ("head", name, "kernel"), _CONV1D),
                (f"model_head.regressor.{index}.bias", ("head", name, "bias"), _SAME),
            ]
    return entries


def _variable(model: TinyMyo, path: tuple) -> nnx.Variable:
    node = model
    for part in path:
        node = node[part] if isinstance(part, int) else getattr(node, part)
    return node


def read_reference_tensors(path: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a reference safetensors file, with the release `model.` prefix removed."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    check_safetensors_header(str(path))  # sizes and offsets, before anything is allocated
    try:
        tensors = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for corrupt headers
        raise UserError(f"{path}: not a readable safetensors file ({err})") from err
    if tensors and all(k.startswith(RELEASE_PREFIX) for k in tensors):
        tensors = {k[len(RELEASE_PREFIX):]: v for k, v in tensors.items()}
    return tensors


def infer_config(
    tensors: dict[str, np.ndarray],
    *,
    num_heads: int,
    rope: str = "reference",
    reg_target_len: int | None = None,
    reduction: str = "concat",
    source: str = "checkpoint",
    normalization: str | None = None,
) -> ModelConfig:
    """Dimensions, depth and head of a reference checkpoint, read from its keys and shapes.

    normalization (stored in the config, applied by probe / fine-tune / export): by default what
    the reference trained such weights on: per-channel min–max for pretrained weights (no head or
    a reconstruction head), none for its classification / regression fine-tunes (normalize=False).
    """

    def need(key: str) -> np.ndarray:
        if key not in tensors:
            raise CheckpointMismatchError(f"{source}: missing key {key!r}; is this a TinyMyo checkpoint?")
        return tensors[key]

    patch_weight = need("patch_embedding.patch_embed.proj.weight")
    if patch_weight.ndim != 4 or patch_weight.shape[1:3] != (1, 1):
        raise CheckpointMismatchError(
            f"{source}: key 'patch_embedding.patch_embed.proj.weight' has shape {patch_weight.shape}, expected (D, 1, 1, patch)"
        )
    embed_dim, patch_size = patch_weight.shape[0], patch_weight.shape[3]
    depth = len({int(m.group(1)) for k in tensors if (m := re.match(r"blocks\.(\d+)\.", k))})
    mlp_hidden = need("blocks.0.mlp.fc1.weight").shape[0] if depth else 4 * embed_dim
    fields = dict(
        embed_dim=int(embed_dim),
        depth=depth,
        num_heads=num_heads,
        patch_size=int(patch_size),
        mlp_ratio=mlp_hidden / embed_dim,
        qkv_bias="blocks.0.attn.qkv.bias" in tensors,
        rope=rope,
        fusion=reduction,
    )
    if "model_head.decoder_pred.weight" in tensors:
        fields["head"] = "reconstruction"
    elif "model_head.classifier.weight" in tensors:
        classes, features = need("model_head.classifier.weight").shape
        fields.update(head="classification", num_outputs=int(classes))
        fields["num_channels"] = _channels_from_features(features, embed_dim, reduction, source, "model_head.classifier.weight")
    elif "model_head.regressor.0.weight" in tensors:
        hidden, features, _ = need("model_head.regressor.0.weight").shape
        outputs = need("model_head.regressor.5.weight").shape[0]
        if reg_target_len is None:
            raise UserError(f"{source}: a regression checkpoint needs reg_target_len (the reference's target length)")
        fields.update(head="regression", num_outputs=int(outputs), reg_hidden_dim=int(hidden), reg_target_len=reg_target_len)
        fields["num_channels"] = _channels_from_features(features, embed_dim, reduction, source, "model_head.regressor.0.weight")
    else:
        fields["head"] = "none"
    if normalization is None:
        normalization = "none" if fields["head"] in ("classification", "regression") else "minmax_channel"
    fields["normalization"] = normalization
    try:
        return ModelConfig(**fields)
    except ValueError as err:
        raise CheckpointMismatchError(f"{source}: {err}") from err


def _channels_from_features(features: int, embed_dim: int, reduction: str, source: str, key: str) -> int | None:
    if reduction == "mean":
        if features != embed_dim:
            raise CheckpointMismatchError(
                f"{source}: key {key!r} takes {features} features but mean fusion gives {embed_dim}; try reduction='concat'"
            )
        return None
    if features % embed_dim:
        raise CheckpointMismatchError(f"{source}: key {key!r} takes {features} features, not a multiple of dim {embed_dim}")
    return features // embed_dim


def assign_reference_tensors(model: TinyMyo, tensors: dict[str, np.ndarray], *, source: str = "checkpoint") -> None:
    """Copy reference tensors into `model`, checking that the key sets and shapes agree exactly."""
    entries = key_map(model.config)
    expected = {key for key, _, _ in entries}
    missing = [key for key, _, _ in entries if key not in tensors]
    if missing:
        raise CheckpointMismatchError(f"{source}: missing key {missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    unexpected = sorted(set(tensors) - expected)
    if unexpected:
        raise CheckpointMismatchError(
            f"{source}: unexpected key {unexpected[0]!r}" + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
            + "; it does not belong to the inferred architecture"
        )
    for key, path, layout in entries:
        variable = _variable(model, path)
        value = layout.to_ours(np.asarray(tensors[key]))
        if value.shape != variable[...].shape:
            wanted = layout.to_torch(np.zeros(variable[...].shape)).shape
            raise CheckpointMismatchError(f"{source}: key {key!r} has shape {tensors[key].shape}, expected {wanted}")
        variable[...] = jnp.asarray(value, dtype=variable[...].dtype)


def load_torch_checkpoint(
    path: str | Path,
    *,
    num_heads: int,
    rope: str = "reference",
    reg_target_len: int | None = None,
    reduction: str = "concat",
    normalization: str | None = None,
) -> TinyMyo:
    """A TinyMyo holding the weights of a reference safetensors file, deterministic ("eval").

    Keys may carry the release prefix `model.`. The head count cannot be read from the weights,
    so it is an argument. `rope="reference"` (default) reproduces the published outputs exactly;
    "time" gives the same weights our positional encoding (a different function: fine-tune it).
    `normalization` defaults to what the reference trained the weights on (infer_config): the
    per-channel min–max for pretrained weights.
    `model(x, mask=mask)` returns what the reference's forward returns first.
    """
    tensors = read_reference_tensors(path)
    config = infer_config(
        tensors, num_heads=num_heads, rope=rope, reg_target_len=reg_target_len, reduction=reduction, source=str(path),
        normalization=normalization,
    )
    model = TinyMyo(config, rngs=nnx.Rngs(params=0))
    assign_reference_tensors(model, tensors, source=str(path))
    return model


def reference_tensors(model: TinyMyo) -> dict[str, np.ndarray]:
    """The model's parameters under reference key names and layouts (float32 numpy)."""
    if model.config.channel_embedding != "none":
        # the reference has no such tensor: dropping it would silently change the function
        raise ValueError("the reference format has no channel embedding: only channel_embedding='none' models can be saved in it")
    return {
        key: np.ascontiguousarray(layout.to_torch(np.asarray(_variable(model, path)[...], dtype=np.float32)))
        for key, path, layout in key_map(model.config)
    }


def save_torch_checkpoint(model: TinyMyo, path: str | Path, *, release_prefix: bool = False) -> None:
    """Write reference-format safetensors (optionally with the release `model.` prefix)."""
    tensors = reference_tensors(model)
    if release_prefix:
        tensors = {RELEASE_PREFIX + k: v for k, v in tensors.items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path))

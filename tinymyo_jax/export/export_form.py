"""The export form of TinyMyo: the training model's function, rewritten for TFLite Micro.

`export_constants(model, spec)` turns a trained `TinyMyo` into plain float32 numpy constants with
everything that can be folded folded in; `export_function(constants, config, spec)` is a pure jnp
function of one input (B, C, T) -> output that computes what `reference_function(model, spec)`
(the training model itself) computes, in ops TFLite Micro has int8 kernels for:

- channels are fixed at export: only the C real channels are computed, so the padded-channel
  attention mask is absent (tokens of real channels never attend to padded ones in the training
  model either); a concat-fusion head keeps the rows of its first C channels (padded channels
  enter it as zeros);
- the residual stream is kept centred (zero mean per token) by centring the three layers that
  write to it (patch embedding, attention output, fc2); every reader of the stream is a
  LayerNorm, which removes the mean anyway, so LayerNorm needs no mean subtraction;
- every LayerNorm's scale and bias are folded into the linear layer that follows it (qkv, fc1,
  the head's first linear), and the attention scale 1/sqrt(hd) into the q projection;
- q, k and v are three FULLY_CONNECTED ops (no slicing of one fused qkv tensor);
- RoPE "time" and "time_channel" use constant cos / signed-sin tables in the half-split layout (q/k columns
  permuted, which leaves q·k unchanged): MUL/ADD/SPLIT/CONCATENATION, no SIN/COS/NEG. RoPE
  "reference" rotates q and k of a head by the same angle, which cancels in q·k exactly, so it
  is dropped; "none" has none;
- attention products contract the right operand's last axis (BATCH_MATMUL with adj_y, no
  transposed copies in TFLM's arena); with `spec.attention="ratio"` (int8) the weights are
  exp(s - max) from LOGISTIC, each row scaled by rsqrt of its sum before the value product, and
  the row sum divides after it (numerics.attend), so no int8 SOFTMAX with its fixed 1/256 output
  step and no product grid set by the most diffuse rows;
- GELU in the form `spec.gelu` names (numerics.GELU_FORMS: "erf_as" for float, "tanh" for
  int8), means as constant matrix products (numerics.normalize); with
  `spec.rescale_first_norm` (int8) the first LayerNorm is recomputed from per-token rescaled
  patches (numerics.normalize_rescaled), which int8 needs and float does not, and every other
  LayerNorm in stages (numerics.normalize_staged, floors from the calibration windows), so each
  RSQRT sees a narrow range, and each refining RSQRT's calibrated range anchored
  (numerics.anchored_rms_rsqrt); pooling over time patches is a constant 1/n product (no SUM).

Outputs (`ExportSpec.output`): "head" (classification logits (B, K), regression (B, L, K),
reconstruction (B, C·P, patch)), "embedding" (B, D): the mean of the latent tokens after the final
LayerNorm, "tokens" (B, C·P, D): the latent tokens.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from tinymyo_jax.errors import UserError
from tinymyo_jax.export import numerics
from tinymyo_jax.models.checkpoint import params_of
from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.rope import rope_tables_for

OUTPUT_KINDS: tuple[str, ...] = ("head", "embedding", "tokens")
STAGED_NORM_WINDOWS = 64  # calibration windows that set the staged LayerNorms' floors


@dataclasses.dataclass(frozen=True)
class ExportSpec:
    """What one export computes: input shape (1, channels, samples), which output, GELU form."""

    channels: int
    samples: int
    output: str = "head"
    gelu: str = "erf_as"
    # int8: compute the first LayerNorm from rescaled patches (numerics.normalize_rescaled).
    rescale_first_norm: bool = False
    # Attention weights: "softmax" (one SOFTMAX op) or "ratio" (exp(s - max) from LOGISTIC,
    # normalised after the value product; numerics.ATTENTION_FORMS: int8 needs it at many tokens).
    attention: str = "softmax"
    # int8: standardise a classification head's pooled features (calibration mean and std) and
    # fold the std into its weights, so the logits are no longer differences of large terms.
    standardize_head: bool = False

    def patches(self, config: ModelConfig) -> int:
        return self.samples // config.patch_size


def default_output(config: ModelConfig) -> str:
    """The head's output when the checkpoint has a task head, else the pooled embedding."""
    return "head" if config.head != "none" else "embedding"


def check_spec(config: ModelConfig, spec: ExportSpec) -> None:
    """Raise UserError when `spec` cannot be exported from a model with `config`."""
    if spec.channels < 1:
        raise UserError(f"--channels must be >= 1, got {spec.channels}")
    if spec.samples < config.patch_size or spec.samples % config.patch_size:
        raise UserError(f"--samples must be a positive multiple of the patch size {config.patch_size}, got {spec.samples}")
    if spec.output not in OUTPUT_KINDS:
        raise UserError(f"unknown export output {spec.output!r}; choose from {OUTPUT_KINDS}")
    if spec.gelu not in numerics.GELU_FORMS:
        raise UserError(f"unknown GELU form {spec.gelu!r}; choose from {numerics.GELU_FORMS}")
    if spec.attention not in numerics.ATTENTION_FORMS:
        raise UserError(f"unknown attention form {spec.attention!r}; choose from {numerics.ATTENTION_FORMS}")
    if spec.output == "head":
        if config.head == "none":
            raise UserError("this checkpoint has no task head; export --output embedding or tokens")
        if config.fusion == "concat" and config.head in ("classification", "regression") and spec.channels > config.num_channels:
            raise UserError(
                f"the {config.head} head concatenates {config.num_channels} channels; "
                f"export at most that many (--channels {config.num_channels}), got {spec.channels}"
            )


# ----------------------------------------------------------------------------- constants


def _np(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def _fold_norm(scale: np.ndarray, bias: np.ndarray, kernel: np.ndarray, kernel_bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n·scale + bias) @ kernel + kernel_bias == n @ K' + b': returns (K', b'), float32.

    scale/bias (F,), kernel (F, O). Computed in float64 so folding adds no rounding of its own.
    """
    folded_kernel = scale[:, None] * kernel
    folded_bias = kernel_bias + bias @ kernel
    return folded_kernel.astype(np.float32), folded_bias.astype(np.float32)


def export_constants(model: Any, spec: ExportSpec, calibration: np.ndarray | None = None) -> dict[str, Any]:
    """Float32 numpy constants of the export form of `model` (a TinyMyo) for `spec`.

    calibration: windows (n, C, T) the int8 model will be calibrated on; with
    `spec.rescale_first_norm` they set the floors of the first LayerNorm's rescaling.
    """
    config: ModelConfig = model.config
    check_spec(config, spec)
    params = jax.tree.map(_np, params_of(model))
    enc = params["encoder"]
    dim, heads, hd = config.embed_dim, config.num_heads, config.head_dim
    perm = numerics.half_split_permutation(heads, hd)
    rotate = config.rope in ("time", "time_channel")  # "reference" cancels in q·k; "none" has none
    q_scale = 1.0 / math.sqrt(hd)

    blocks = []
    for index in range(config.depth):
        block = enc["blocks"][index]
        qkv_kernel, qkv_bias = block["attn"]["qkv"]["kernel"], block["attn"]["qkv"]["bias"]
        n1 = block["norm1"]
        parts = {}
        for slot, name in enumerate("qkv"):
            kernel = qkv_kernel[:, slot * dim : (slot + 1) * dim]
            bias = qkv_bias[slot * dim : (slot + 1) * dim]
            if name == "q":
                kernel, bias = kernel * q_scale, bias * q_scale
            if rotate and name in "qk":
                kernel, bias = kernel[:, perm], bias[perm]
            parts[f"w{name}"], parts[f"b{name}"] = _fold_norm(n1["scale"], n1["bias"], kernel, bias)
        n2 = block["norm2"]
        parts["w1"], parts["b1"] = _fold_norm(n2["scale"], n2["bias"], block["mlp"]["fc1"]["kernel"], block["mlp"]["fc1"]["bias"])
        # Layers that write to the residual stream are centred (numerics.centre_columns).
        for out, (name, layer) in (("o", ("attn", "proj")), ("2", ("mlp", "fc2"))):
            kernel, bias = numerics.centre_columns(block[name][layer]["kernel"], block[name][layer]["bias"])
            parts[f"w{out}"], parts[f"b{out}"] = kernel.astype(np.float32), bias.astype(np.float32)
        blocks.append(parts)

    patches = spec.patches(config)
    rope = None
    if rotate:
        cos, sin = rope_tables_for(
            config.rope, num_channels=spec.channels, patches_per_channel=patches,
            num_heads=heads, head_dim=hd, base=config.rope_base,
        )  # fmt: skip
        rope = numerics.half_split_rope_tables(cos, sin)  # (N, 1, hd) each

    patch_kernel, patch_bias = numerics.centre_columns(enc["patch_embed"]["proj"]["kernel"], enc["patch_embed"]["proj"]["bias"])
    if config.channel_embedding == "learned":
        # The learned channel embedding is a constant per token: folded into the patch
        # embedding's bias, which becomes (C·P, D), centred like every residual write.
        rows = np.repeat(enc["channel_embed"][: spec.channels], patches, axis=0)
        patch_bias = patch_bias[None, :] + (rows - rows.mean(axis=1, keepdims=True))
    constants: dict[str, Any] = {
        "patch_kernel": patch_kernel.astype(np.float32),
        "patch_bias": patch_bias.astype(np.float32),
        "blocks": blocks,
        "rope": rope,
        "eps": float(config.layer_norm_eps),
        "norm_scale": enc["norm"]["scale"].astype(np.float32),
        "norm_bias": enc["norm"]["bias"].astype(np.float32),
    }
    if spec.rescale_first_norm:
        if calibration is None:
            raise ValueError("rescale_first_norm needs calibration windows to set its floors")
        windows = np.asarray(calibration, np.float64)
        rows = windows.reshape(len(windows), -1, config.patch_size)
        constants["first_norm_floors"] = numerics.rescale_floors(rows, patch_kernel, patch_bias)
    if spec.output == "head":
        constants["head"] = _head_constants(config, spec, params["head"], enc["norm"])
    if spec.rescale_first_norm:
        # Every other LayerNorm in stages, floors from its input's variances on the calibration
        # windows (the floors bound ranges only, so measuring them with the unstaged form is exact).
        variances: dict[str, list[np.ndarray]] = {}
        unstaged = export_function(constants, config, spec, collect=variances)
        windows = np.asarray(calibration, np.float32)[:STAGED_NORM_WINDOWS]
        for start in range(0, len(windows), 16):
            unstaged(jnp.asarray(windows[start:start + 16]))
        constants["norm_floors"] = {key: numerics.variance_floors(np.concatenate(parts, axis=None))
                                    for key, parts in variances.items() if key != "head_features"}  # fmt: skip
    if spec.standardize_head and spec.output == "head" and config.head == "classification":
        if calibration is None:
            raise ValueError("standardize_head needs calibration windows")
        collected: dict[str, list[np.ndarray]] = {}
        measuring = export_function(constants, config, spec, collect=collected)
        windows = np.asarray(calibration, np.float32)
        for start in range(0, len(windows), 16):
            measuring(jnp.asarray(windows[start:start + 16]))
        features = np.concatenate(collected["head_features"]).astype(np.float64)
        mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
        kernel, kbias = constants["head"]["kernel"].astype(np.float64), constants["head"]["bias"].astype(np.float64)
        constants["head"] = {"kernel": (std[:, None] * kernel).astype(np.float32), "bias": (kbias + mean @ kernel).astype(np.float32),
                             "feature_mean": mean.astype(np.float32), "feature_inv_std": (1.0 / std).astype(np.float32)}  # fmt: skip
    return constants


def _head_constants(config: ModelConfig, spec: ExportSpec, head: dict, norm: dict) -> dict[str, np.ndarray]:
    scale, bias = norm["scale"], norm["bias"]
    channels = spec.channels
    if config.fusion == "concat" and config.head != "reconstruction":
        # Rows c·D + d of the head's first linear: keep the real channels' rows, each channel's
        # block scaled by the final LayerNorm's scale (its bias enters once per channel).
        scale, bias = np.tile(scale, channels), np.tile(bias, channels)
    if config.head == "reconstruction":
        kernel, kbias = _fold_norm(scale, bias, head["decoder_pred"]["kernel"], head["decoder_pred"]["bias"])
        return {"kernel": kernel, "bias": kbias}
    if config.head == "classification":
        kernel = head["classifier"]["kernel"]
        if config.fusion == "concat":
            kernel = kernel[: channels * config.embed_dim]
        folded, fbias = _fold_norm(scale, bias, kernel, head["classifier"]["bias"])
        return {"kernel": folded, "bias": fbias}
    # regression: 1x1 conv == linear; depthwise k=3 conv weights (3, hidden); 1x1 conv out.
    conv_in = head["conv_in"]["kernel"][0]
    if config.fusion == "concat":
        conv_in = conv_in[: channels * config.embed_dim]
    w_in, b_in = _fold_norm(scale, bias, conv_in, head["conv_in"]["bias"])
    patches = spec.patches(config)
    return {
        "w_in": w_in,
        "b_in": b_in,
        "w_dw": head["conv_depthwise"]["kernel"][:, 0, :].astype(np.float32),
        "b_dw": head["conv_depthwise"]["bias"].astype(np.float32),
        "w_out": head["conv_out"]["kernel"][0].astype(np.float32),
        "b_out": head["conv_out"]["bias"].astype(np.float32),
        "resize": resize_matrix(patches, config.reg_target_len),
    }


def resize_matrix(size: int, length: int) -> np.ndarray:
    """(size, length) float32 R with x_resized = R^T-weighted sum: linear interpolation along
    time from `size` to `length` points, PyTorch's align_corners=False rule (heads.linear_resize)."""
    matrix = np.zeros((size, length), np.float64)
    if size == length:
        np.fill_diagonal(matrix, 1.0)
        return matrix.astype(np.float32)
    src = np.maximum((np.arange(length) + 0.5) * (size / length) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int64), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    frac = src - lo
    np.add.at(matrix, (lo, np.arange(length)), 1.0 - frac)
    np.add.at(matrix, (hi, np.arange(length)), frac)
    return matrix.astype(np.float32)


# ----------------------------------------------------------------------------- the function


def export_function(constants: dict[str, Any], config: ModelConfig, spec: ExportSpec,
                    collect: dict[str, list] | None = None) -> Callable[[jax.Array], jax.Array]:  # fmt: skip
    """The export form as a pure function (B, C, T) float32 -> output; constants are baked in.

    collect (eager calls only): receives each residual LayerNorm's input variances E[x²] per
    token under its key ("block{i}.norm1", "block{i}.norm2", "final"), for the staged floors,
    and a classification head's pooled features under "head_features" (standardize_head).
    """
    dim, heads, hd = config.embed_dim, config.num_heads, config.head_dim
    channels, patches = spec.channels, spec.patches(config)
    tokens_n = channels * patches
    eps = constants["eps"]
    rope = constants["rope"]
    if rope is not None:
        rope = tuple(table.reshape(1, tokens_n, 1, hd) for table in rope)

    def linear(x, kernel, bias):
        return x @ jnp.asarray(kernel) + jnp.asarray(bias)

    def attention(h, p):
        batch = h.shape[0]
        q = linear(h, p["wq"], p["bq"]).reshape(batch, tokens_n, heads, hd)
        k = linear(h, p["wk"], p["bk"]).reshape(batch, tokens_n, heads, hd)
        v = linear(h, p["wv"], p["bv"]).reshape(batch, tokens_n, heads, hd)
        if rope is not None:
            q = numerics.rotate_half_split(q, *rope)
            k = numerics.rotate_half_split(k, *rope)
        # Both products contract the right operand's last axis (k as (B, H, N, hd), v as
        # (B, H, hd, N)): BATCH_MATMUL with adj_y, for which TFLM needs no persistent transposed
        # copy of the right operand (it allocates one per op otherwise: 0.5 MB in the published
        # model at 16 x 200).
        q, k = q.transpose(0, 2, 1, 3), k.transpose(0, 2, 1, 3)  # (B, H, N, hd)
        v = v.transpose(0, 2, 3, 1)  # (B, H, hd, N)
        out = numerics.attend(jnp.einsum("bhnd,bhmd->bhnm", q, k), v, spec.attention)
        out = out.transpose(0, 2, 1, 3).reshape(batch, tokens_n, dim)
        return linear(out, p["wo"], p["bo"])

    floors = constants.get("norm_floors", {})

    def norm(tokens, key):
        if collect is not None:
            collect.setdefault(key, []).append(np.asarray(jnp.mean(tokens * tokens, axis=-1)))
        if key in floors:
            return numerics.normalize_staged(tokens, eps, floors[key])
        return numerics.normalize(tokens, eps, centred=True)

    def forward(x):
        batch = x.shape[0]
        patch_rows = x.reshape(batch, tokens_n, config.patch_size)
        tokens = linear(patch_rows, constants["patch_kernel"], constants["patch_bias"])
        for index, p in enumerate(constants["blocks"]):
            if index == 0 and "first_norm_floors" in constants:
                normed = numerics.normalize_rescaled(
                    patch_rows, constants["patch_kernel"], constants["patch_bias"], eps, constants["first_norm_floors"]
                )
            else:
                normed = norm(tokens, f"block{index}.norm1")
            tokens = tokens + attention(normed, p)
            hidden = numerics.gelu(linear(norm(tokens, f"block{index}.norm2"), p["w1"], p["b1"]), spec.gelu)
            tokens = tokens + linear(hidden, p["w2"], p["b2"])
        normed = norm(tokens, "final")  # (B, N, D), affine folded or applied below
        if spec.output == "tokens":
            return normed * jnp.asarray(constants["norm_scale"]) + jnp.asarray(constants["norm_bias"])
        if spec.output == "embedding":
            pooled = numerics.mean_axis(normed, 1)
            return pooled * jnp.asarray(constants["norm_scale"]) + jnp.asarray(constants["norm_bias"])
        return _head(normed, constants["head"], config, channels, patches, collect)

    return forward


def _head(normed: jax.Array, head: dict, config: ModelConfig, channels: int, patches: int,
          collect: dict[str, list] | None = None) -> jax.Array:  # fmt: skip
    batch, _, dim = normed.shape
    if config.head == "reconstruction":
        return normed @ jnp.asarray(head["kernel"]) + jnp.asarray(head["bias"])
    per_channel = normed.reshape(batch, channels, patches, dim)
    if config.head == "classification":
        # Standardised features (standardize_head): the calibration mean is subtracted from every
        # token before the pooling product (the same function: the mean is linear), so the pooled
        # tensor's int8 grid spans the features' variation across windows, not their constant
        # offsets (subtracting after pooling added relative error 0.42 on the demo model).
        centre = "feature_mean" in head
        if config.fusion == "concat":
            if centre:
                per_channel = per_channel - jnp.asarray(head["feature_mean"]).reshape(channels, 1, dim)
            features = numerics.mean_axis(per_channel, 2).reshape(batch, channels * dim)  # channel-major
        else:
            features = numerics.mean_axis(normed - jnp.asarray(head["feature_mean"]) if centre else normed, 1)
        if collect is not None:
            collect.setdefault("head_features", []).append(np.asarray(features))
        if centre:
            features = features * jnp.asarray(head["feature_inv_std"])
        return features @ jnp.asarray(head["kernel"]) + jnp.asarray(head["bias"])
    # regression
    if config.fusion == "concat":
        fused = per_channel.transpose(0, 2, 1, 3).reshape(batch, patches, channels * dim)
    else:
        fused = numerics.mean_axis(per_channel, 1)
    x = fused @ jnp.asarray(head["w_in"]) + jnp.asarray(head["b_in"])
    x = x * jax.nn.sigmoid(x)
    padded = jnp.pad(x, ((0, 0), (1, 1), (0, 0)))
    w_dw = jnp.asarray(head["w_dw"])
    x = padded[:, :-2] * w_dw[0] + padded[:, 1:-1] * w_dw[1] + padded[:, 2:] * w_dw[2] + jnp.asarray(head["b_dw"])
    x = x * jax.nn.sigmoid(x)
    x = x @ jnp.asarray(head["w_out"]) + jnp.asarray(head["b_out"])  # (B, P, K)
    # Linear resize along time as a constant matrix product: (B, K, P) @ (P, L) -> (B, L, K).
    return (x.transpose(0, 2, 1) @ jnp.asarray(head["resize"])).transpose(0, 2, 1)


# ----------------------------------------------------------------------------- the reference


def reference_function(model: Any, spec: ExportSpec) -> Callable[[jax.Array], jax.Array]:
    """What the training model computes for the export's input (B, C, T), deterministically.

    A concat-fusion head built for more channels than exported sees the windows zero-padded to
    its channel count with a channel mask marking the first C real, exactly as training feeds it.
    """
    config: ModelConfig = model.config
    channels, patches = spec.channels, spec.patches(config)

    def forward(x):
        x = jnp.asarray(x, jnp.float32)
        if spec.output == "head":
            if config.fusion == "concat" and config.head in ("classification", "regression") and config.num_channels > channels:
                batch = x.shape[0]
                padded = jnp.pad(x, ((0, 0), (0, config.num_channels - channels), (0, 0)))
                mask = jnp.broadcast_to(jnp.arange(config.num_channels) < channels, (batch, config.num_channels))
                return model(padded, channel_mask=mask)
            return model(x)
        latent = model.encode(x)[:, : channels * patches]
        return latent.mean(axis=1) if spec.output == "embedding" else latent

    return forward

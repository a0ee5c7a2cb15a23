"""What a model costs: parameter counts per part and analytic FLOPs per window.

FLOPs count multiply-adds as 2 and include only matrix products (embedding, q/k/v/output
projections, attention scores and weighted sums, MLP, head): the convention used for MFU.
Element-wise work (LayerNorm, GELU, softmax, RoPE) is < 2% here and left out.
"""

from __future__ import annotations

import jax
import numpy as np
from flax import nnx

from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.tinymyo import TinyMyo


def _count(node) -> int:
    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(nnx.state(node, nnx.Param))))


def parameter_counts(model: TinyMyo) -> dict[str, int]:
    """Parameters per part: patch_embed, mask_token, channel_embed (0 without one), blocks,
    final_norm, encoder, head, total."""
    encoder = model.encoder
    counts = {
        "patch_embed": _count(encoder.patch_embed),
        "mask_token": int(np.size(encoder.mask_token[...])),
        "channel_embed": int(np.size(encoder.channel_embed[...])) if encoder.channel_embed is not None else 0,
        "blocks": sum(_count(block) for block in encoder.blocks),
        "per_block": _count(encoder.blocks[0]) if len(encoder.blocks) else 0,
        "final_norm": _count(encoder.norm),
    }
    counts["encoder"] = sum(counts[part] for part in ("patch_embed", "mask_token", "channel_embed", "blocks", "final_norm"))
    counts["head"] = _count(model.head) if model.head is not None else 0
    counts["total"] = counts["encoder"] + counts["head"]
    return counts


def forward_flops(config: ModelConfig, num_channels: int, num_samples: int) -> dict[str, int]:
    """Analytic forward FLOPs for one window of (num_channels, num_samples)."""
    d, p = config.embed_dim, config.patch_size
    patches = num_samples // p
    n = num_channels * patches
    per_block = {
        "qkv_and_output_projections": 2 * n * d * 4 * d,
        "attention_scores_and_values": 2 * 2 * n * n * d,
        "mlp": 2 * 2 * n * d * config.mlp_hidden_dim,
    }
    flops = {"patch_embed": 2 * n * p * d}
    for name, value in per_block.items():
        flops[name] = config.depth * value
    if config.head == "reconstruction":
        flops["head"] = 2 * n * d * p
    elif config.head == "classification":
        features = d if config.fusion == "mean" else num_channels * d
        flops["head"] = 2 * features * config.num_outputs
    elif config.head == "regression":
        features = d if config.fusion == "mean" else num_channels * d
        h = config.reg_hidden_dim
        flops["head"] = 2 * patches * (features * h + 3 * h + h * config.num_outputs)
    else:
        flops["head"] = 0
    flops["total"] = sum(flops.values())
    return flops


def format_summary(model: TinyMyo, num_channels: int, num_samples: int) -> str:
    """A human-readable table of parameters and FLOPs per window."""
    config = model.config
    counts = parameter_counts(model)
    flops = forward_flops(config, num_channels, num_samples)
    tokens = num_channels * (num_samples // config.patch_size)
    lines = [
        f"TinyMyo  dim {config.embed_dim}, {config.depth} blocks, {config.num_heads} heads, patch {config.patch_size}, "
        f"rope={config.rope}, channel embedding {config.channel_embedding}, head={config.head}",
        f"input    {num_channels} channels x {num_samples} samples -> {tokens} tokens; normalisation "
        f"{config.normalization}, windows at {f'{config.input_rate_hz:g} Hz' if config.input_rate_hz else 'an unrecorded rate'}"
        + (f" ({num_samples / config.input_rate_hz:g} s, patches of {1e3 * config.patch_size / config.input_rate_hz:g} ms)"
           if config.input_rate_hz else ""),
        "",
        "parameters",
    ]
    parts = ("patch_embed", "mask_token", *(("channel_embed",) if counts["channel_embed"] else ()), "blocks", "final_norm")
    for name in (*parts, "encoder", "head", "total"):
        suffix = f"  ({config.depth} x {counts['per_block']:,})" if name == "blocks" else ""
        lines.append(f"  {name:<12} {counts[name]:>12,}{suffix}")
    lines += ["", "forward FLOPs per window (matmuls, multiply-add = 2)"]
    for name, value in flops.items():
        lines.append(f"  {name:<30} {value / 1e9:>9.3f} GFLOP")
    lines.append(f"  training step (≈3x forward)    {3 * flops['total'] / 1e9:>9.3f} GFLOP")
    return "\n".join(lines)

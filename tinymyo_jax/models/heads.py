"""Task heads on top of the encoder's latent tokens (B, C·P, D), channel-major.

`fuse_channels` is the one place where channels are combined (`concat` or `mean`); the
classification and regression heads and the linear-probe feature extractor all use it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.dropout import Dropout

_xavier = nnx.initializers.variance_scaling(1.0, "fan_avg", "uniform")
_kaiming_relu = nnx.initializers.variance_scaling(2.0, "fan_in", "uniform")


def fuse_channels(
    latent: jax.Array, num_channels: int, fusion: str, channel_mask: jax.Array | None = None
) -> jax.Array:
    """(B, C·P, D) -> (B, P, F): per time patch, the channels' features combined.

    concat: F = C·D, channel-major (channel 0's D features first), zeros for padded channels.
    mean:   F = D, mean over the real channels only when a channel mask is given.
    """
    batch, tokens, dim = latent.shape
    per_channel = latent.reshape(batch, num_channels, tokens // num_channels, dim)  # (B, C, P, D)
    if fusion == "concat":
        if channel_mask is not None:
            per_channel = jnp.where(channel_mask[:, :, None, None], per_channel, 0.0)
        return per_channel.transpose(0, 2, 1, 3).reshape(batch, tokens // num_channels, num_channels * dim)
    if fusion == "mean":
        if channel_mask is None:
            return per_channel.mean(axis=1)
        weights = channel_mask.astype(latent.dtype)[:, :, None, None]
        return (per_channel * weights).sum(axis=1) / jnp.maximum(weights.sum(axis=1), 1.0)
    raise ValueError(f"unknown channel fusion {fusion!r}; use 'concat' or 'mean'")


def linear_resize(x: jax.Array, length: int) -> jax.Array:
    """Linear interpolation along axis 1 to `length`, PyTorch's `align_corners=False` rule.

    jax.image.resize antialiases when shrinking, so the reference's F.interpolate is written out:
    source coordinate (i + 0.5)·in/out − 0.5, clamped at 0.
    """
    size = x.shape[1]
    if size == length:
        return x
    src = np.maximum((np.arange(length) + 0.5) * (size / length) - 0.5, 0.0)
    lo = np.minimum(np.floor(src).astype(np.int32), size - 1)
    hi = np.minimum(lo + 1, size - 1)
    frac = jnp.asarray((src - lo).astype(np.float32), x.dtype)[None, :, None]
    return x[:, lo] * (1.0 - frac) + x[:, hi] * frac


class ReconstructionHead(nnx.Module):
    """Linear decoder from each token to its patch's samples: (B, N, D) -> (B, N, patch_size)."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.decoder_pred = nnx.Linear(config.embed_dim, config.patch_size, kernel_init=_xavier, rngs=rngs)

    def __call__(self, latent: jax.Array, num_channels: int, channel_mask: jax.Array | None = None, rngs: nnx.Rngs | None = None) -> jax.Array:
        return self.decoder_pred(latent)


class ClassificationHead(nnx.Module):
    """Channel fusion -> mean over time patches -> linear: (B, N, D) -> (B, classes) logits."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.fusion = config.fusion
        features = config.embed_dim if config.fusion == "mean" else config.num_channels * config.embed_dim
        self.classifier = nnx.Linear(features, config.num_outputs, kernel_init=_xavier, rngs=rngs)

    def features(self, latent: jax.Array, num_channels: int, channel_mask: jax.Array | None = None) -> jax.Array:
        """(B, N, D) -> (B, F): the pooled representation the linear layer sees."""
        return fuse_channels(latent, num_channels, self.fusion, channel_mask).mean(axis=1)

    def __call__(self, latent: jax.Array, num_channels: int, channel_mask: jax.Array | None = None, rngs: nnx.Rngs | None = None) -> jax.Array:
        return self.classifier(self.features(latent, num_channels, channel_mask))


class RegressionHead(nnx.Module):
    """Fusion -> 1×1 conv -> SiLU -> dropout -> depthwise k=3 conv -> SiLU -> 1×1 conv -> resize.

    (B, N, D) -> (B, reg_target_len, num_outputs), the reference's EMGRegressionHead.
    """

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs):
        self.fusion = config.fusion
        self.target_len = config.reg_target_len
        features = config.embed_dim if config.fusion == "mean" else config.num_channels * config.embed_dim
        hidden = config.reg_hidden_dim
        self.conv_in = nnx.Conv(features, hidden, kernel_size=(1,), kernel_init=_kaiming_relu, rngs=rngs)
        self.drop = Dropout(config.head_dropout)
        self.conv_depthwise = nnx.Conv(
            hidden, hidden, kernel_size=(3,), padding=((1, 1),), feature_group_count=hidden,
            kernel_init=_kaiming_relu, rngs=rngs,
        )
        self.conv_out = nnx.Conv(hidden, config.num_outputs, kernel_size=(1,), kernel_init=_kaiming_relu, rngs=rngs)

    def __call__(self, latent: jax.Array, num_channels: int, channel_mask: jax.Array | None = None, rngs: nnx.Rngs | None = None) -> jax.Array:
        x = fuse_channels(latent, num_channels, self.fusion, channel_mask)  # (B, P, F), channels-last
        x = self.drop(jax.nn.silu(self.conv_in(x)), rngs)
        x = self.conv_out(jax.nn.silu(self.conv_depthwise(x)))
        return linear_resize(x, self.target_len)

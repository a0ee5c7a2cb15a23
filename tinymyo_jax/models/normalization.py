"""Input normalisation of a window before the encoder: the one implementation of every mode.

A pretraining run names its mode in `config.data.normalization`; the mode is stored in the
checkpoint's ModelConfig (`normalization`), and probe, fine-tune and export apply the
checkpoint's own mode unless told otherwise. Modes, on x (B, C, T) in the prepared units
(per-recording z-scores, padded channels all zero):

- "minmax_channel": the reference's per-window, per-channel min–max to [−1, 1] over time,
  2·((x−min)/(max−min+1e-8) − 0.5). Every channel fills [−1, 1] whatever its amplitude, so
  between-channel amplitude ratios are gone; a zero-padded channel becomes a constant −1.
- "window_scale": x / max|x| over the window's real channels and samples: one scale per window,
  values in [−1, 1], between-channel ratios (and waveform shapes) kept; padding stays 0.
- "none": the prepared per-recording z-scores as they are (levels across windows kept too).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

MINMAX_EPS = 1e-8
WINDOW_SCALE_EPS = 1e-6  # a silent window stays (almost) silent instead of dividing by zero

NORMALIZATIONS: tuple[str, ...] = ("minmax_channel", "window_scale", "none")
# Older spellings still accepted by evaluation configs ("minmax" was the probe's name for the
# reference's per-channel min–max).
ALIASES = {"minmax": "minmax_channel"}
REFERENCE_NORMALIZATION = "minmax_channel"


def canonical_normalization(mode: str) -> str:
    """The canonical name of `mode`; ValueError naming the choices when it is unknown."""
    mode = ALIASES.get(mode, mode)
    if mode not in NORMALIZATIONS:
        raise ValueError(f"unknown input normalization {mode!r}; choose from {NORMALIZATIONS}")
    return mode


def minmax_normalize(x: jax.Array) -> jax.Array:
    """Per-window, per-channel min–max to [−1, 1] over time: 2·((x−min)/(max−min+1e-8) − 0.5).

    x (B, C, T). The reference's formula; an all-zero (padded) channel becomes a constant −1,
    which is why losses and attention take a channel mask.
    """
    lo = x.min(axis=-1, keepdims=True)
    hi = x.max(axis=-1, keepdims=True)
    return 2.0 * ((x - lo) / (hi - lo + MINMAX_EPS) - 0.5)


def window_scale_normalize(x: jax.Array, channel_mask: jax.Array | None = None) -> jax.Array:
    """x (B, C, T) divided by max|x| over the real channels (channel_mask (B, C), True = real)
    and all samples of each window: one positive scale per window, ratios kept."""
    magnitude = jnp.abs(x)
    if channel_mask is not None:
        magnitude = jnp.where(channel_mask[:, :, None], magnitude, 0.0)
    scale = magnitude.max(axis=(1, 2), keepdims=True)
    return x / (scale + WINDOW_SCALE_EPS)


def normalize(x: jax.Array, mode: str, channel_mask: jax.Array | None = None) -> jax.Array:
    """x (B, C, T) float -> the encoder's input under `mode` (see the module docstring)."""
    mode = canonical_normalization(mode)
    if mode == "minmax_channel":
        return minmax_normalize(x)
    if mode == "window_scale":
        return window_scale_normalize(x, channel_mask)
    return x

"""Reference points for the masked loss: predictions of masked patches that need no model.

- `neighbour_mean`: each masked patch predicted as the (sample-wise) mean of the nearest
  visible patch on each side in its channel (one side at the edges) — the literal "mean of its
  visible neighbours".
- `neighbour_level`: the constant mean level of those neighbours (for noise-like EMG the
  stronger of the two: copying a neighbour's waveform adds its noise).
- `zero`: predict 0 (the middle of the min–max range).

Why a model hardly beats `neighbour_level` on TinyMyo's architecture: tokens carry no channel
identity (one shared patch embedding, one shared mask token, RoPE by time only), so every masked
token at the same time position of a window receives the same input and yields the same
reconstruction whatever its channel. It can only predict what the channels share at that time.
"""

from __future__ import annotations

import numpy as np


def _nearest_visible(masked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the nearest visible patch to the left / right (-1 / P where there is none)."""
    patches = masked.shape[-1]
    index = np.arange(patches)
    left = np.maximum.accumulate(np.where(~masked, index, -1), axis=-1)
    right = np.minimum.accumulate(np.where(~masked, index, patches)[..., ::-1], axis=-1)[..., ::-1]
    return left, right


def baseline_predictions(x: np.ndarray, token_mask: np.ndarray, patch_size: int) -> dict[str, np.ndarray]:
    """x (B, C, T) normalised input, token_mask (B, C·P) -> {name: prediction (B, C, T)}.

    Visible patches are predicted as themselves; only the masked ones differ between baselines.
    """
    b, c, t = x.shape
    patches = t // patch_size
    wave = x.reshape(b, c, patches, patch_size).astype(np.float64)
    masked = token_mask.reshape(b, c, patches).astype(bool)
    left, right = _nearest_visible(masked)
    has_left, has_right = (left >= 0)[..., None], (right < patches)[..., None]
    take = lambda idx: np.take_along_axis(wave, np.clip(idx, 0, patches - 1)[..., None], axis=2)
    total = np.where(has_left, take(left), 0.0) + np.where(has_right, take(right), 0.0)
    count = has_left.astype(np.float64) + has_right
    mean_wave = np.where(count > 0, total / np.maximum(count, 1.0), 0.0)  # (B, C, P, patch)
    level = np.broadcast_to(mean_wave.mean(-1, keepdims=True), mean_wave.shape)
    out = {}
    for name, estimate in (("neighbour_mean", mean_wave), ("neighbour_level", level), ("zero", np.zeros_like(wave))):
        prediction = np.where(masked[..., None], estimate, wave)
        out[name] = prediction.reshape(b, c, t).astype(np.float32)
    return out

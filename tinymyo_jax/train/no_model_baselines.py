"""Reference points for the masked loss: predictions of masked patches that need no model.

- `neighbour_mean`: each masked patch predicted as the (sample-wise) mean of the nearest
  visible patch on each side in its channel (one side at the edges) — the literal "mean of its
  visible neighbours".
- `neighbour_level`: the constant mean level of those neighbours (for noise-like EMG the
  stronger of the two: copying a neighbour's waveform adds its noise).
- `zero`: predict 0 (the middle of the min–max range).
- `time_interp`: linear interpolation in time, sample by sample, between the nearest visible
  samples of the same channel (the last sample of the visible patch on the left, the first of
  the one on the right); the one side's sample held constant at the edges.
- `channel_mean`: the mean of the window's other real channels whose patch at the same time is
  visible, over the same samples: spatial interpolation that needs no electrode layout. On
  multi-electrode recordings this is the predictor to beat.
Where a predictor has nothing to go on (a channel with every patch masked; no other visible
real channel at that time) it predicts 0.

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


def baseline_predictions(
    x: np.ndarray, token_mask: np.ndarray, patch_size: int, channel_mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """x (B, C, T) normalised input, token_mask (B, C·P) -> {name: prediction (B, C, T)}.

    channel_mask (B, C), True = real channel (default: all real): padded channels never enter
    `channel_mean`. Visible patches are predicted as themselves; only the masked ones differ
    between baselines.
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
    estimates = {"neighbour_mean": mean_wave, "neighbour_level": level, "zero": np.zeros_like(wave)}
    estimates["time_interp"] = _time_interpolation(wave, left, right)
    real = np.ones((b, c), bool) if channel_mask is None else np.asarray(channel_mask, bool)
    estimates["channel_mean"] = _channel_mean(wave, masked, real)
    out = {}
    for name, estimate in estimates.items():
        prediction = np.where(masked[..., None], estimate, wave)
        out[name] = prediction.reshape(b, c, t).astype(np.float32)
    return out


def _time_interpolation(wave: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """(B, C, P, patch): each sample of every patch linearly interpolated between the last sample
    of patch `left` and the first sample of patch `right` (sample-index distances)."""
    b, c, patches, size = wave.shape
    signal = wave.reshape(b, c, patches * size)
    has_left, has_right = (left >= 0)[..., None], (right < patches)[..., None]
    left_t = (left[..., None] + 1) * size - 1  # last sample of the left visible patch
    right_t = right[..., None] * size  # first sample of the right visible patch
    t = np.arange(patches)[:, None] * size + np.arange(size)  # (P, patch) sample index
    at = lambda index: np.take_along_axis(signal, np.clip(index, 0, patches * size - 1).reshape(b, c, -1), axis=2).reshape(b, c, patches, 1)
    left_v, right_v = at(left_t), at(right_t)
    fraction = (t - left_t) / np.maximum(right_t - left_t, 1)
    both = left_v + (right_v - left_v) * fraction
    return np.where(has_left & has_right, both, np.where(has_left, left_v, np.where(has_right, right_v, 0.0)))


def _channel_mean(wave: np.ndarray, masked: np.ndarray, real: np.ndarray) -> np.ndarray:
    """(B, C, P, patch): per time patch, the mean waveform of the real channels whose patch is
    visible, leaving the predicted channel out (it is masked wherever this is used)."""
    visible = (~masked & real[:, :, None]).astype(np.float64)  # (B, C, P)
    total = np.einsum("bcp,bcps->bps", visible, wave)[:, None] - visible[..., None] * wave
    count = visible.sum(axis=1)[:, None, :, None] - visible[..., None]
    return np.where(count > 0, total / np.maximum(count, 1.0), 0.0)

"""A reference point for the masked loss: predict each masked patch from its visible neighbours.

For every masked patch, the prediction is the constant mean of the nearest visible patch on
each side in the same channel (one side at the edges; zero if the channel has no visible
patch). A model that does not beat this has learned little beyond local level.
"""

from __future__ import annotations

import numpy as np


def neighbour_mean_prediction(x: np.ndarray, token_mask: np.ndarray, patch_size: int) -> np.ndarray:
    """x (B, C, T) normalised input, token_mask (B, C·P) -> prediction (B, C, T)."""
    b, c, t = x.shape
    patches = t // patch_size
    patch_means = x.reshape(b, c, patches, patch_size).mean(-1)  # (B, C, P)
    masked = token_mask.reshape(b, c, patches).astype(bool)
    index = np.arange(patches)
    # nearest visible patch to the left / right: running max / min of visible indices
    left = np.where(~masked, index, -1)
    left = np.maximum.accumulate(left, axis=-1)
    right = np.where(~masked, index, patches)
    right = np.minimum.accumulate(right[..., ::-1], axis=-1)[..., ::-1]
    has_left, has_right = left >= 0, right < patches
    left_value = np.take_along_axis(patch_means, np.clip(left, 0, patches - 1), axis=-1)
    right_value = np.take_along_axis(patch_means, np.clip(right, 0, patches - 1), axis=-1)
    total = np.where(has_left, left_value, 0.0) + np.where(has_right, right_value, 0.0)
    count = has_left.astype(np.float64) + has_right
    estimate = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    prediction = np.where(masked, estimate, patch_means)
    return np.repeat(prediction, patch_size, axis=-1).reshape(b, c, t).astype(np.float32)

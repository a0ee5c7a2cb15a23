"""No-model predictions of masked patches, pinned on a hand-computed window."""

from __future__ import annotations

import numpy as np

from tinymyo_jax.train.no_model_baselines import baseline_predictions


def test_masked_patches_are_predicted_from_their_nearest_visible_neighbours():
    # one window, one channel, 5 patches of 2 samples; patches 1, 2 and 4 masked
    x = np.array([[[1.0, 3.0, 9.0, 9.0, 9.0, 9.0, 5.0, 7.0, 9.0, 9.0]]])
    token_mask = np.array([[False, True, True, False, True]])
    predictions = baseline_predictions(x, token_mask, patch_size=2)
    # patches 1-2: mean of patch 0 [1, 3] and patch 3 [5, 7] -> [3, 5]; patch 4: only patch 3 on the left
    np.testing.assert_allclose(predictions["neighbour_mean"][0, 0], [1, 3, 3, 5, 3, 5, 5, 7, 5, 7])
    np.testing.assert_allclose(predictions["neighbour_level"][0, 0], [1, 3, 4, 4, 4, 4, 5, 7, 6, 6])
    np.testing.assert_allclose(predictions["zero"][0, 0], [1, 3, 0, 0, 0, 0, 5, 7, 0, 0])


def test_a_channel_with_no_visible_patch_is_predicted_as_zero():
    x = np.ones((1, 2, 4))
    token_mask = np.array([[True, True, False, False]])  # channel 0 fully masked
    predictions = baseline_predictions(x, token_mask, patch_size=2)
    np.testing.assert_allclose(predictions["neighbour_mean"][0, 0], 0.0)
    np.testing.assert_allclose(predictions["neighbour_mean"][0, 1], 1.0)

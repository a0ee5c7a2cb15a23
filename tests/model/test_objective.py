"""The pretraining task: normalisation, masks and the loss, pinned to their definitions."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tinymyo_jax.models.normalization import minmax_normalize
from tinymyo_jax.models.objective import (
    LOG_EPS,
    patches_to_signal,
    reconstruction_loss,
    reconstruction_target,
    sample_patch_mask,
    smooth_l1,
    token_mask_to_sample_mask,
)


def test_minmax_maps_each_channel_of_each_window_onto_minus_one_to_one():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 5, 100)) * 7 + 2)
    y = np.asarray(minmax_normalize(x))
    np.testing.assert_allclose(y.min(-1), -1.0, atol=1e-6)
    np.testing.assert_allclose(y.max(-1), 1.0, atol=1e-6)
    x0 = np.asarray(x)[1, 2]
    expected = 2 * ((x0 - x0.min()) / (x0.max() - x0.min() + 1e-8) - 0.5)
    np.testing.assert_allclose(y[1, 2], expected, atol=1e-6)


def test_minmax_turns_a_zero_padded_channel_into_constant_minus_one():
    y = minmax_normalize(jnp.zeros((1, 2, 40)))
    np.testing.assert_array_equal(np.asarray(y), -1.0)


@pytest.mark.parametrize("ratio,tokens,expected", [(0.5, 800, 400), (0.5, 40, 20), (0.3, 50, 15), (0.75, 7, 5)])
def test_masks_hide_exactly_int_ratio_times_n_patches_per_sample(ratio, tokens, expected):
    mask = sample_patch_mask(jax.random.key(0), 6, 1, tokens, ratio)
    assert mask.shape == (6, tokens)
    np.testing.assert_array_equal(np.asarray(mask.sum(1)), expected)


def test_masks_are_reproducible_from_the_key_and_differ_between_keys_and_samples():
    a = sample_patch_mask(jax.random.key(3), 4, 16, 50, 0.5)
    b = sample_patch_mask(jax.random.key(3), 4, 16, 50, 0.5)
    c = sample_patch_mask(jax.random.key(4), 4, 16, 50, 0.5)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert bool((a != c).any())
    assert bool((a[0] != a[1]).any())
    step_keys = [jax.random.fold_in(jax.random.key(3), step) for step in (0, 1)]
    assert bool((sample_patch_mask(step_keys[0], 4, 16, 50, 0.5) != sample_patch_mask(step_keys[1], 4, 16, 50, 0.5)).any())


def test_masks_only_touch_real_channels_when_a_channel_mask_is_given():
    channel_mask = jnp.asarray([[True] * 14 + [False] * 2, [True] * 12 + [False] * 4])
    mask = np.asarray(sample_patch_mask(jax.random.key(0), 2, 16, 50, 0.5, channel_mask)).reshape(2, 16, 50)
    assert not mask[0, 14:].any() and not mask[1, 12:].any()
    assert mask[0].sum() == int(0.5 * 14 * 50) and mask[1].sum() == int(0.5 * 12 * 50)


def test_masks_are_uniform_over_positions():
    mask = np.asarray(sample_patch_mask(jax.random.key(5), 2000, 4, 10, 0.5))
    # each of the 40 positions is masked in ~50% of 2000 samples; 6 sigma is ±0.067
    assert np.abs(mask.mean(0) - 0.5).max() < 0.067


def test_token_masks_expand_to_whole_patches_of_samples():
    token_mask = jnp.asarray([[True, False, False, True]])  # 2 channels × 2 patches
    samples = np.asarray(token_mask_to_sample_mask(token_mask, 2, 3))
    np.testing.assert_array_equal(samples, [[[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]])


def test_patches_are_laid_out_channel_major():
    patches = jnp.arange(2 * 3 * 4).reshape(1, 6, 4)  # 2 channels, 3 patches of 4
    signal = np.asarray(patches_to_signal(patches, 2))
    np.testing.assert_array_equal(signal[0, 1], np.arange(12, 24))


def test_smooth_l1_is_quadratic_below_beta_and_linear_above():
    d = jnp.asarray([0.0, 0.5, 1.0, 3.0])
    np.testing.assert_allclose(np.asarray(smooth_l1(d, 0.0 * d)), [0.0, 0.125, 0.5, 2.5])


def test_loss_is_masked_mean_plus_a_tenth_of_the_visible_mean():
    rng = np.random.default_rng(0)
    prediction, target = rng.normal(size=(2, 3, 8)), rng.normal(size=(2, 3, 8))
    mask = rng.random((2, 3, 8)) < 0.5
    error = np.abs(prediction - target)
    elementwise = np.where(error < 1, 0.5 * error**2, error - 0.5)
    losses = reconstruction_loss(jnp.asarray(prediction), jnp.asarray(target), jnp.asarray(mask))
    masked, visible = elementwise[mask].mean(), elementwise[~mask].mean()
    np.testing.assert_allclose(float(losses["masked_loss"]), masked, rtol=1e-6)
    np.testing.assert_allclose(float(losses["visible_loss"]), visible, rtol=1e-6)
    np.testing.assert_allclose(float(losses["loss"]), masked + 0.1 * visible, rtol=1e-6)


def test_loss_ignores_padded_channels_when_a_channel_mask_is_given():
    rng = np.random.default_rng(1)
    prediction, target = rng.normal(size=(2, 4, 20)), rng.normal(size=(2, 4, 20))
    mask = rng.random((2, 4, 20)) < 0.5
    channel_mask = np.array([[True, True, True, False], [True, True, False, False]])
    base = reconstruction_loss(jnp.asarray(prediction), jnp.asarray(target), jnp.asarray(mask), jnp.asarray(channel_mask))
    corrupted = prediction.copy()
    corrupted[~channel_mask] = 1e3
    after = reconstruction_loss(jnp.asarray(corrupted), jnp.asarray(target), jnp.asarray(mask), jnp.asarray(channel_mask))
    for name in ("loss", "masked_loss", "visible_loss"):
        assert float(base[name]) == pytest.approx(float(after[name]), rel=1e-7)
    keep = np.broadcast_to(channel_mask[:, :, None], mask.shape)
    error = np.abs(prediction - target)
    elementwise = np.where(error < 1, 0.5 * error**2, error - 0.5)
    np.testing.assert_allclose(float(base["masked_loss"]), elementwise[mask & keep].mean(), rtol=1e-6)


def test_log_targets_are_the_log_of_the_rectified_samples_and_of_each_patchs_rms():
    # one channel, two patches of 4 samples: RMS 0.5 (|x| = 0.5 everywhere) and RMS 0
    x = jnp.asarray([[[0.5, -0.5, 0.5, -0.5, 0.0, 0.0, 0.0, 0.0]]])
    log_rectified = np.asarray(reconstruction_target(x, "log_rectified", patch_size=4))
    np.testing.assert_allclose(log_rectified[0, 0], np.log(np.abs(np.asarray(x[0, 0])) + LOG_EPS), rtol=1e-6)
    np.testing.assert_allclose(log_rectified[0, 0, 4], np.log(0.02), rtol=1e-6)  # silence sits on the floor
    # a patch with samples 3, 4 (RMS sqrt(12.5)) next to the first: every sample carries its patch's value
    y = jnp.asarray([[[3.0, -4.0, 3.0, -4.0, 0.5, -0.5, 0.5, -0.5]]])
    log_rms = np.asarray(reconstruction_target(y, "log_rms", patch_size=4))
    np.testing.assert_allclose(log_rms[0, 0, :4], np.log(np.sqrt(12.5) + 0.02), rtol=1e-6)
    np.testing.assert_allclose(log_rms[0, 0, 4:], np.log(0.5 + 0.02), rtol=1e-6)
    # a gain change is an offset of the log-RMS target, up to the floor (which shrinks with the gain)
    louder = np.asarray(reconstruction_target(100 * y, "log_rms", patch_size=4)) - np.log(100)
    np.testing.assert_allclose(louder[0, 0, 4:], np.log(0.5 + LOG_EPS / 100), rtol=1e-6)


def _explicit_dct_ii(n: int) -> np.ndarray:
    """The orthonormal DCT-II written out from its definition, entry by entry."""
    matrix = np.empty((n, n))
    for k in range(n):
        scale = math.sqrt((1.0 if k == 0 else 2.0) / n)
        for m in range(n):
            matrix[k, m] = scale * math.cos(math.pi * (2 * m + 1) * k / (2 * n))
    return matrix


def test_the_dct_target_is_each_patchs_orthonormal_dct_magnitudes_in_its_own_slots():
    patch = 8
    explicit = _explicit_dct_ii(patch)
    np.testing.assert_allclose(explicit @ explicit.T, np.eye(patch), atol=1e-12)  # the reference itself
    x = np.random.default_rng(3).normal(size=(2, 3, 4 * patch)).astype(np.float32)
    target = np.asarray(reconstruction_target(jnp.asarray(x), "dct_abs", patch_size=patch))
    assert target.shape == x.shape and target.dtype == x.dtype
    # patch by patch: coefficient k of patch p sits in sample p·patch + k of the same channel
    for b, c, p in np.ndindex(2, 3, 4):
        segment = x[b, c, p * patch : (p + 1) * patch].astype(np.float64)
        np.testing.assert_allclose(target[b, c, p * patch : (p + 1) * patch], np.abs(explicit @ segment), rtol=1e-5, atol=1e-6)
    # energy-preserving: each patch's sum of squares is its samples' (the level is kept)
    energy = np.square(x.reshape(2, 3, 4, patch)).sum(-1)
    np.testing.assert_allclose(np.square(target.reshape(2, 3, 4, patch)).sum(-1), energy, rtol=1e-5)
    # one basis cosine in the second patch, silence around it: its whole energy lands in its slot only
    y = np.zeros((1, 1, 3 * patch), np.float32)
    y[0, 0, patch : 2 * patch] = 0.5 * explicit[3]
    spectral = np.asarray(reconstruction_target(jnp.asarray(y), "dct_abs", patch_size=patch))[0, 0]
    expected = np.zeros(3 * patch)
    expected[patch + 3] = 0.5
    np.testing.assert_allclose(spectral, expected, atol=1e-6)
    # the log form is the log of the same magnitudes over the floor: silent bands sit on log(LOG_EPS)
    logged = np.asarray(reconstruction_target(jnp.asarray(y), "dct_log", patch_size=patch))[0, 0]
    np.testing.assert_allclose(logged, np.log(expected + LOG_EPS), rtol=1e-5, atol=1e-5)


def test_an_unknown_reconstruction_target_names_the_choices():
    with pytest.raises(ValueError, match="log_rms"):
        reconstruction_target(jnp.zeros((1, 1, 4)), "log_envelope", patch_size=4)


def test_channel_masks_hide_whole_real_channels_and_time_masks_whole_patch_columns():
    channel_mask = jnp.asarray([[True] * 8 + [False] * 8] * 3)  # 8 real rows of 16, as the Myo windows
    by_channel = np.asarray(sample_patch_mask(jax.random.key(0), 3, 16, 10, 0.75, channel_mask, "channel")).reshape(3, 16, 10)
    for row in by_channel:
        assert set(row.all(1).nonzero()[0]) == set(row.any(1).nonzero()[0])  # a channel is hidden whole or not at all
        assert row[:8].all(1).sum() == 6 and not row[8:].any()  # int(0.75 · 8) real channels, no padding
    assert (by_channel[0] != by_channel[1]).any()
    by_time = np.asarray(sample_patch_mask(jax.random.key(0), 3, 16, 10, 0.75, channel_mask, "time")).reshape(3, 16, 10)
    for row in by_time:
        assert (row[:8] == row[0]).all() and row[0].sum() == 7 and not row[8:].any()  # int(0.75 · 10) columns on every real channel
    with pytest.raises(ValueError, match="channel"):
        sample_patch_mask(jax.random.key(0), 3, 16, 10, 0.75, channel_mask, "blocks")

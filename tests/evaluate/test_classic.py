"""The classic EMG features and LDA against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from tinymyo_jax.evaluate.classic import LOG_FLOOR, channel_features, fit_lda, log_amplitude, window_features

X = np.array([1.0, -2.0, 3.0, 3.0, -1.0])


def test_classic_features_match_hand_computed_values():
    rms, mav, wl, zc, ssc = channel_features(X)
    assert rms == pytest.approx(np.sqrt((1 + 4 + 9 + 9 + 1) / 5))
    assert mav == pytest.approx((1 + 2 + 3 + 3 + 1) / 5)
    assert wl == pytest.approx(3 + 5 + 0 + 4)
    assert zc == 3  # 1|-2, -2|3, 3|-1 change sign; 3|3 does not
    assert ssc == 1  # only at x=-2: (-2-1)(-2-3) = 15 > 0; the flat 3,3 gives products of 0


def test_thresholds_drop_small_crossings_and_slope_changes():
    *_, zc, ssc = channel_features(X, zc_threshold=4.5, ssc_threshold=20.0)
    assert zc == 1  # only -2 -> 3 jumps by more than 4.5
    assert ssc == 0  # 15 is not above 20


def test_window_features_are_feature_major_per_segment():
    emg = np.stack([np.tile(X, 2), 2 * np.tile(X, 2)])[None]  # (N=1, C=2, W=10), 2 segments of 5
    features = window_features(emg, segments=2)
    assert features.shape == (1, 2, 10)
    single = channel_features(X)
    # [rms c0, rms c1, mav c0, mav c1, wl c0, wl c1, zc c0, zc c1, ssc c0, ssc c1], both segments alike
    expected = np.array([[single[i], (2 if i < 3 else 1) * single[i]] for i in range(5)]).reshape(-1)
    np.testing.assert_allclose(features[0, 0], expected)
    np.testing.assert_allclose(features[0, 1], expected)


def test_log_amplitude_logs_rms_mav_wl_and_keeps_the_counts():
    emg = np.stack([X, 3 * X])[None]  # (N=1, C=2, W=5): channel 1 is channel 0 at 3x the gain
    features = window_features(emg)[:, 0]
    logged = log_amplitude(features, channels=2)
    np.testing.assert_allclose(logged[..., :6], np.log1p(features[..., :6] / LOG_FLOOR))
    np.testing.assert_array_equal(logged[..., 6:], features[..., 6:])  # ZC, SSC: counts, gain-free
    # a gain is (almost exactly, far above the floor) an offset of log 3 on every amplitude feature
    np.testing.assert_allclose(logged[0, 1:6:2] - logged[0, 0:6:2], np.log(3.0), atol=1e-3)
    # a dead channel's zeros stay zeros
    dead = window_features(emg, channel_mask=np.array([[True, False]]))[:, 0]
    assert np.all(log_amplitude(dead, channels=2)[0, 1::2] == 0.0)


def test_log_amplitude_refuses_vectors_of_another_channel_count():
    with pytest.raises(ValueError, match="expected 15 features of 3 channels, got 10"):
        log_amplitude(np.ones((4, 10)), channels=3)


def test_lda_matches_the_hand_computed_discriminant():
    # 1-D, means 1 and 5, pooled variance ((1+1) + (1+1)) / (4 - 2) = 2, equal priors
    x, y = np.array([[0.0], [2.0], [4.0], [6.0]]), np.array([3, 3, 8, 8])
    (model,) = fit_lda(x, y, [0.5])  # shrinkage changes nothing in one dimension
    np.testing.assert_allclose(model.coef, [[0.5, 2.5]])
    np.testing.assert_allclose(model.intercept, [-0.25 + np.log(0.5), -6.25 + np.log(0.5)])
    np.testing.assert_array_equal(model.predict(np.array([[2.9], [3.1], [-10.0]])), [3, 8, 3])

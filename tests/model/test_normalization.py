"""Input normalisation modes, pinned to their definitions."""

from __future__ import annotations

import numpy as np
import pytest

from tinymyo_jax.models.normalization import NORMALIZATIONS, canonical_normalization, normalize


@pytest.fixture
def window():
    rng = np.random.default_rng(0)
    x = np.zeros((2, 4, 50), np.float32)
    x[:, :3] = rng.normal(size=(2, 3, 50)) * np.array([1.0, 3.0, 0.5])[None, :, None]  # channel 3 padded
    return x, np.array([[True, True, True, False]] * 2)


def test_minmax_channel_fills_minus_one_to_one_per_channel(window):
    x, _ = window
    y = np.asarray(normalize(x, "minmax_channel"))
    np.testing.assert_allclose(y[:, :3].min(-1), -1.0, atol=1e-6)
    np.testing.assert_allclose(y[:, :3].max(-1), 1.0, atol=1e-6)


def test_window_scale_keeps_between_channel_ratios_and_padding(window):
    x, channel_mask = window
    y = np.asarray(normalize(x, "window_scale", channel_mask))
    expected = x / (np.abs(x[:, :3]).max(axis=(1, 2), keepdims=True) + 1e-6)
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    np.testing.assert_allclose(np.abs(y).max(axis=(1, 2)), 1.0, atol=1e-5)
    ratio = np.abs(y[:, 1]).max(-1) / np.abs(y[:, 0]).max(-1)
    np.testing.assert_allclose(ratio, np.abs(x[:, 1]).max(-1) / np.abs(x[:, 0]).max(-1), rtol=1e-5)
    assert (y[:, 3] == 0).all()


def test_none_is_the_identity_and_unknown_modes_are_named(window):
    x, _ = window
    np.testing.assert_array_equal(np.asarray(normalize(x, "none")), x)
    assert canonical_normalization("minmax") == "minmax_channel"
    with pytest.raises(ValueError, match="window_scale"):
        normalize(x, "per_channel")
    assert NORMALIZATIONS == ("minmax_channel", "window_scale", "none")

"""Frozen-encoder features: pooling into segments, and dead channels left out."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from tinymyo_jax.evaluate.config import probe_config
from tinymyo_jax.evaluate.features import make_feature_fn, pool_time
from tinymyo_jax.models.config import preset
from tinymyo_jax.models.tinymyo import build_model


def test_pool_time_averages_or_maxes_equal_runs_of_patches():
    fused = jnp.arange(2 * 4 * 3, dtype=jnp.float32).reshape(2, 4, 3)  # (B, P=4, F=3)
    np.testing.assert_allclose(pool_time(fused, 1, "mean")[:, 0], fused.mean(axis=1))
    np.testing.assert_allclose(pool_time(fused, 2, "max")[0, 1], fused[0, 3])
    assert pool_time(fused, 2, "mean_max").shape == (2, 2, 6)


@pytest.mark.parametrize("fusion", ["concat", "mean"])
def test_a_dead_channel_changes_nothing_in_the_features(fusion):
    model = build_model(preset("tinyissimo", embed_dim=16, depth=1, num_heads=2, head="none"), seed=0)
    config = probe_config("ninapro_db8", "tiny")
    config.features.fusion, config.features.segments, config.data.encode_chunk = fusion, 2, 1
    fn, params = make_feature_fn(model, config)
    rng = np.random.default_rng(0)
    emg = rng.normal(size=(2, 4, 80)).astype(np.float16)
    mask = np.array([[True, True, False, True], [True, True, True, True]])
    first = np.asarray(fn(params, emg, mask))
    emg[:, 2] = rng.normal(size=(2, 80)) * 10  # channel 2: dead in window 0, live in window 1
    second = np.asarray(fn(params, emg, mask))
    assert first.shape == (2, 2, 4 * 16 if fusion == "concat" else 16)
    np.testing.assert_allclose(second[0], first[0], atol=1e-6)
    assert np.abs(second[1] - first[1]).max() > 1e-3
    if fusion == "concat":
        np.testing.assert_array_equal(first[0, :, 2 * 16:3 * 16], 0.0)  # the dead channel's slot is zero

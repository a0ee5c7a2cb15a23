"""time_channel RoPE: q·k after rotation depends on the time offset and the channel offset only."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tinymyo_jax.models.config import preset
from tinymyo_jax.models.rope import apply_rotary, rope_tables_for, time_channel_frequencies
from tinymyo_jax.models.tinymyo import build_model

CHANNELS, PATCHES, HEADS, HEAD_DIM = 8, 12, 2, 32


def _rotated_scores(q: np.ndarray, k: np.ndarray, query: tuple[int, int], key: tuple[int, int]) -> np.ndarray:
    """Per-head q·k of vectors q, k (heads, hd) placed at (channel, patch) `query` and `key`."""
    cos, sin = rope_tables_for("time_channel", num_channels=CHANNELS, patches_per_channel=PATCHES,
                               num_heads=HEADS, head_dim=HEAD_DIM, base=10_000.0)  # fmt: skip
    qn, kn = query[0] * PATCHES + query[1], key[0] * PATCHES + key[1]  # channel-major token index
    q_rot = apply_rotary(jnp.asarray(q, jnp.float32), cos[qn], sin[qn])
    k_rot = apply_rotary(jnp.asarray(k, jnp.float32), cos[kn], sin[kn])
    return np.asarray((q_rot * k_rot).sum(-1))


@pytest.fixture(scope="module")
def qk():
    rng = np.random.default_rng(0)
    return rng.normal(size=(HEADS, HEAD_DIM)), rng.normal(size=(HEADS, HEAD_DIM))


def test_scores_are_invariant_to_shifting_both_tokens_in_time_and_in_channel(qk):
    q, k = qk
    base = _rotated_scores(q, k, (1, 2), (3, 7))  # channel offset 2, time offset 5
    for dc, dp in ((0, 4), (4, 0), (3, 3), (-1, -2)):
        shifted = _rotated_scores(q, k, (1 + dc, 2 + dp), (3 + dc, 7 + dp))
        np.testing.assert_allclose(shifted, base, atol=1e-5, rtol=0)


def test_scores_depend_on_the_time_offset_and_on_the_channel_offset(qk):
    q, k = qk
    base = _rotated_scores(q, k, (2, 3), (2, 3))
    other_time = _rotated_scores(q, k, (2, 3), (2, 4))  # same channel, next patch
    other_channel = _rotated_scores(q, k, (2, 3), (3, 3))  # same time, next channel
    assert np.abs(other_time - base).max() > 1e-2
    assert np.abs(other_channel - base).max() > 1e-2
    # and the two offsets are not confused with each other
    assert np.abs(other_time - other_channel).max() > 1e-2


def test_channel_pairs_are_the_slowest_quarter_with_their_own_ladder():
    time, channel = time_channel_frequencies(64, 10_000.0)
    assert (len(time), len(channel)) == (24, 8)
    np.testing.assert_allclose(time, 1.0 / 10_000.0 ** (np.arange(24) * 2 / 64), rtol=1e-6)
    np.testing.assert_allclose([channel[0], channel[-1]], [1.0, np.pi / 32], rtol=1e-6)
    assert 15 * channel[-1] < np.pi / 2  # the slowest pair is monotone over 16 channels


def test_time_channel_model_tells_channels_apart_where_time_rope_cannot():
    # Masked tokens at the same time position of different channels get the same input; with
    # time RoPE they get the same output (tests/model/test_published_model.py), with
    # time_channel they differ.
    x = jax.random.normal(jax.random.key(0), (1, 4, 200))
    token_mask = np.zeros((1, 40), bool)
    token_mask[0, [3, 13, 23]] = True  # time position 3 of channels 0, 1, 2
    outputs = {}
    for rope in ("time", "time_channel"):
        model = build_model(preset("tinyissimo", embed_dim=64, num_heads=2, rope=rope))
        outputs[rope] = np.asarray(model(x, token_mask=jnp.asarray(token_mask)))[0]
    np.testing.assert_allclose(outputs["time"][3], outputs["time"][13], atol=1e-6)
    assert np.abs(outputs["time_channel"][3] - outputs["time_channel"][13]).max() > 1e-3
    assert np.abs(outputs["time_channel"][13] - outputs["time_channel"][23]).max() > 1e-3


def test_time_channel_needs_a_head_dimension_of_at_least_four():
    with pytest.raises(ValueError, match="head dimension >= 4"):
        preset("tinyissimo", embed_dim=4, num_heads=2, rope="time_channel")

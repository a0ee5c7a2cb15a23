"""Hash-based dropout masks: the statistics dropout needs, determinism, and the attention that uses them."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tinymyo_jax.models.dropout import Dropout, dropout, keep_mask, random_words
from tinymyo_jax.models.encoder import attend

SHAPE = (3, 800, 800)  # one window's attention weights at the published shape


def _z(observed: float, expected: float, n: int) -> float:
    return abs(observed - expected) / math.sqrt(expected * (1 - expected) / n)


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_keep_rate_matches_one_minus_rate_within_binomial_noise(rate):
    keep = np.asarray(keep_mask(jax.random.key(0), SHAPE, rate))
    assert _z(keep.mean(), 1 - rate, keep.size) < 5


def test_mask_is_a_function_of_key_and_shape_alone():
    a = keep_mask(jax.random.key(7), SHAPE, 0.1)
    b = jax.jit(lambda k: keep_mask(k, SHAPE, 0.1))(jax.random.key(7))
    assert bool(jnp.array_equal(a, b))


def test_rows_key_each_slice_by_its_global_index():
    """A micro-batch holding rows 1, 3, 5, 7 of a batch gets exactly those rows' masks."""
    full = keep_mask(jax.random.key(7), (8, 5, 7), 0.3)
    part = keep_mask(jax.random.key(7), (4, 5, 7), 0.3, rows=jnp.arange(1, 8, 2))
    assert bool(jnp.array_equal(part, full[1::2]))
    assert not bool(jnp.array_equal(part, full[:4]))


def test_masks_of_different_keys_agree_only_by_chance():
    rate = 0.1
    a = np.asarray(keep_mask(jax.random.key(1), SHAPE, rate))
    b = np.asarray(keep_mask(jax.random.key(2), SHAPE, rate))
    both_dropped = (~a & ~b).mean()
    assert _z(both_dropped, rate * rate, a.size) < 5


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_neighbouring_elements_are_uncorrelated_along_every_axis(axis):
    words = np.asarray(random_words(jax.random.key(3), SHAPE)).astype(np.float64)
    here = np.moveaxis(words, axis, 0)[:-1].ravel()
    there = np.moveaxis(words, axis, 0)[1:].ravel()
    corr = np.corrcoef(here, there)[0, 1]
    assert abs(corr) < 5 / math.sqrt(here.size)


def test_rows_of_one_call_are_independent_streams_at_every_small_shift():
    """Each row (sample) draws its own stream: row r's words are uncorrelated with row r+1's at the
    same element and a few elements either side (a row stream that were a shifted copy of its
    neighbour, as a start linear in the row would give, fails here)."""
    words = np.asarray(random_words(jax.random.key(8), (4, 200_000), rows=jnp.arange(10, 14))).astype(np.float64)
    for shift in range(-3, 4):
        for r in range(3):
            a = words[r, max(0, shift):words.shape[1] + min(0, shift)]
            b = words[r + 1, max(0, -shift):words.shape[1] - max(0, shift)]
            assert abs(np.corrcoef(a, b)[0, 1]) < 5 / math.sqrt(a.size), (r, shift)


def test_the_words_of_one_row_are_all_distinct():
    """A row's words are a bijection of distinct counters (odd Weyl step, bijective finaliser), so
    one window's attention weights (1.92M elements) never repeat a word within a sample."""
    words = np.asarray(random_words(jax.random.key(9), (1, *SHAPE), rows=jnp.array([3])))
    assert np.unique(words).size == words.size


def test_every_bit_of_the_words_is_fair():
    words = np.asarray(random_words(jax.random.key(4), (1 << 20,)))
    bits = (words[:, None] >> np.arange(32, dtype=np.uint32)) & 1
    assert all(_z(m, 0.5, words.size) < 5 for m in bits.mean(axis=0))


def test_dropout_zeroes_at_the_rate_and_scales_survivors():
    x = jnp.ones((64, 1000))
    y = np.asarray(dropout(x, 0.25, jax.random.key(5)))
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert _z((y == 0).mean(), 0.25, y.size) < 5


def test_broadcast_dims_share_one_mask_value():
    y = np.asarray(dropout(jnp.ones((256, 5, 7)), 0.5, jax.random.key(6), broadcast_dims=(1, 2)))
    per_sample = y.reshape(256, -1)
    assert (per_sample == per_sample[:, :1]).all()
    assert 0 < (per_sample[:, 0] == 0).sum() < 256


def test_rate_zero_is_the_identity_and_bad_rates_are_refused():
    x = jnp.arange(6.0)
    assert dropout(x, 0.0, jax.random.key(0)) is x
    for rate in (-0.1, 1.0):
        with pytest.raises(ValueError, match="rate"):
            keep_mask(jax.random.key(0), (4,), rate)


def test_the_module_is_inactive_without_rngs():
    layer = Dropout(0.5)
    x = jnp.ones((10, 10))
    assert layer(x, None) is x
    assert (np.asarray(layer(x, nnx.Rngs(dropout=0))) == 0).any()


def test_attention_with_dropout_is_dropped_softmax_times_values():
    """The deferred normalisation equals dropout(softmax(qk/sqrt(d))) @ v, written out plainly."""
    rng = np.random.default_rng(0)
    q, k, v = (jnp.asarray(rng.normal(size=(2, 50, 3, 8)), jnp.float32) for _ in range(3))
    key_mask = jnp.asarray(rng.random((2, 50)) > 0.3)
    rate, key = 0.2, jax.random.key(9)
    out = attend(q, k, v, key_mask, rate, nnx.Rngs(dropout=key))

    qt, kt, vt = (np.asarray(a, np.float64).transpose(0, 2, 1, 3) for a in (q, k, v))
    logits = qt @ kt.swapaxes(-1, -2) / math.sqrt(8)
    logits = np.where(np.asarray(key_mask)[:, None, None, :], logits, -np.inf)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    keep = np.asarray(keep_mask(nnx.Rngs(dropout=key).dropout(), weights.shape, rate))
    expected = (np.where(keep, weights / (1 - rate), 0.0) @ vt).transpose(0, 2, 1, 3)
    np.testing.assert_allclose(np.asarray(out), expected, atol=1e-5)


def test_attention_rows_with_every_key_masked_stay_finite():
    q = k = v = jnp.ones((1, 4, 1, 2))
    out = attend(q, k, v, jnp.zeros((1, 4), bool), 0.0, None)
    assert np.isfinite(np.asarray(out)).all()

"""The export-form building blocks compute what the training model's pieces compute."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tinymyo_jax.export import numerics
from tinymyo_jax.export.export_form import resize_matrix
from tinymyo_jax.models.heads import linear_resize
from tinymyo_jax.models.rope import apply_rotary, rotary_tables


@pytest.mark.parametrize(
    "form, bound",
    [("erf", 0.0), ("erf_as", 3e-7), ("poly5", 8e-5), ("tanh", 4.8e-4), ("sigmoid", 2.1e-2)],
)
def test_gelu_forms_stay_within_their_documented_error(form, bound):
    assert numerics.gelu_max_error(form) <= bound


def test_erf_as_gelu_is_float32_exact_in_jax():
    import scipy.special

    x = np.linspace(-10, 10, 20_001).astype(np.float32)
    exact = x.astype(np.float64) * scipy.special.ndtr(x.astype(np.float64))
    assert np.abs(np.asarray(numerics.gelu(jnp.asarray(x), "erf_as")) - exact).max() < 1e-6


def test_half_split_rope_with_permuted_features_equals_interleaved_rope():
    rng = np.random.default_rng(0)
    heads, head_dim, tokens = 3, 8, 5
    q = rng.standard_normal((1, tokens, heads, head_dim)).astype(np.float32)
    k = rng.standard_normal((1, tokens, heads, head_dim)).astype(np.float32)
    cos, sin = rotary_tables(np.arange(tokens)[:, None], head_dim, 10_000.0)
    reference = np.einsum("bnhd,bmhd->bhnm", apply_rotary(q, cos, sin), apply_rotary(k, cos, sin))
    perm = numerics.half_split_permutation(heads, head_dim).reshape(heads, head_dim) % head_dim
    q_half = np.take_along_axis(q, perm[None, None], axis=-1)
    k_half = np.take_along_axis(k, perm[None, None], axis=-1)
    tables = numerics.half_split_rope_tables(cos, sin)
    ours = np.einsum(
        "bnhd,bmhd->bhnm", numerics.rotate_half_split(q_half, *tables), numerics.rotate_half_split(k_half, *tables)
    )
    np.testing.assert_allclose(ours, reference, atol=1e-5)


def _layer_norm(x, eps):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + eps)


def test_centring_the_writers_leaves_layer_norm_unchanged():
    rng = np.random.default_rng(1)
    h = rng.standard_normal((4, 6))
    kernel, bias = rng.standard_normal((6, 10)), rng.standard_normal(10) + 3.0
    centred_kernel, centred_bias = numerics.centre_columns(kernel, bias)
    centred = h @ centred_kernel + centred_bias
    np.testing.assert_allclose(centred.mean(-1), 0.0, atol=1e-12)
    ours = np.asarray(numerics.normalize(jnp.asarray(centred, jnp.float32), 1e-5, centred=True))
    np.testing.assert_allclose(ours, _layer_norm(h @ kernel + bias, 1e-5), atol=1e-5)


def test_rescaled_first_norm_equals_layer_norm_for_tokens_of_any_scale():
    rng = np.random.default_rng(2)
    # Patches whose scale spans four orders of magnitude, as quiet and active channels do.
    patches = rng.standard_normal((1, 12, 20)) * np.logspace(-3, 1, 12)[None, :, None]
    kernel, bias = numerics.centre_columns(rng.standard_normal((20, 16)) * 0.3, rng.standard_normal(16) * 0.01)
    floors = numerics.rescale_floors(patches, kernel, bias)
    ours = numerics.normalize_rescaled(jnp.asarray(patches, jnp.float32), kernel, bias, 1e-5, floors)
    np.testing.assert_allclose(np.asarray(ours), _layer_norm(patches @ kernel + bias, 1e-5), atol=2e-5)


def test_staged_norm_equals_layer_norm_and_narrows_every_rsqrt_input():
    rng = np.random.default_rng(3)
    # Centred residual-stream tokens whose scale spans four orders of magnitude.
    tokens = rng.standard_normal((2, 12, 16)) * np.logspace(-3, 1, 12)[None, :, None]
    tokens -= tokens.mean(axis=-1, keepdims=True)
    floors = numerics.variance_floors(np.mean(tokens**2, axis=-1))
    ours = numerics.normalize_staged(jnp.asarray(tokens, jnp.float32), 1e-5, floors)
    np.testing.assert_allclose(np.asarray(ours), _layer_norm(tokens, 1e-5), atol=2e-5)
    # the first stage's floor bounds its RSQRT output to a range 1/sqrt(floor) wide, not 1/sqrt(eps)
    variance = np.mean(tokens**2, axis=-1)
    assert 1 / np.sqrt(floors[0]) < 1 / np.sqrt(variance.min() + 1e-5) / 10


def test_ratio_attention_equals_softmax_attention_for_peaked_and_diffuse_rows():
    rng = np.random.default_rng(4)
    # row scales from near-uniform (0.01) to one dominant key (30): both ends of int8's trouble
    scores = rng.standard_normal((2, 6, 50)) * np.logspace(-2, 1.5, 6)[None, :, None]
    values = rng.standard_normal((2, 3, 50))
    reference = np.einsum("bnm,bdm->bnd", np.exp(scores) / np.exp(scores).sum(-1, keepdims=True), values)
    for form in numerics.ATTENTION_FORMS:
        ours = numerics.attend(jnp.asarray(scores, jnp.float32), jnp.asarray(values, jnp.float32), form)
        np.testing.assert_allclose(np.asarray(ours), reference, atol=1e-5)  # float32


def test_anchored_rsqrt_is_the_plain_one_and_spans_the_anchor_range():
    """The anchors widen what calibration sees (values 1/4 .. 4 always occur) and are sliced off."""
    rng = np.random.default_rng(5)
    y = jnp.asarray(rng.standard_normal((1, 10, 16)), jnp.float32)
    addend = jnp.asarray(rng.uniform(0.0, 0.1, (1, 10, 1)), jnp.float32)
    plain = jax.lax.rsqrt(numerics.mean_last(y * y) + addend)
    for extra in (addend, 0.05):
        expected = jax.lax.rsqrt(numerics.mean_last(y * y) + extra)
        np.testing.assert_allclose(np.asarray(numerics.anchored_rms_rsqrt(y, extra)), np.asarray(expected), rtol=1e-6)
    assert plain.shape == numerics.anchored_rms_rsqrt(y, addend).shape
    inner = jax.make_jaxpr(lambda v: numerics.anchored_rms_rsqrt(v, addend))(y)
    rsqrt_in = [e for e in inner.eqns if e.primitive.name == "rsqrt"][0].invars[0].aval.shape
    assert rsqrt_in == (1, 10 + len(numerics.ANCHOR_RANGE), 1)


@pytest.mark.parametrize("size, length", [(10, 500), (50, 500), (7, 7), (12, 5)])
def test_resize_matrix_matches_the_heads_linear_resize(size, length):
    x = np.random.default_rng(3).standard_normal((2, size, 3)).astype(np.float32)
    reference = np.asarray(linear_resize(jnp.asarray(x), length))
    ours = np.einsum("bpk,pl->blk", x, resize_matrix(size, length))
    np.testing.assert_allclose(ours, reference, atol=1e-5)

"""The published architecture (16 × 1000, dim 192, 8 blocks, 3 heads) with random weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tinymyo_jax.models.config import preset
from tinymyo_jax.models.summary import forward_flops, parameter_counts
from tinymyo_jax.models.tinymyo import build_model

CHANNELS, SAMPLES, PATCH = 16, 1000, 20
PATCHES = SAMPLES // PATCH


def _jit_forward(model):
    graphdef, state = nnx.split(model)
    return jax.jit(lambda x, channel_mask=None: nnx.merge(graphdef, state)(x, channel_mask=channel_mask))


@pytest.fixture(scope="module")
def window():
    return jax.random.normal(jax.random.key(1), (2, CHANNELS, SAMPLES))


def _permute_time(x, order):
    """Reorder the 20-sample patches of every channel in time by `order`."""
    b, c, t = x.shape
    return x.reshape(b, c, PATCHES, PATCH)[:, :, order].reshape(b, c, t)


def _permute_tokens(tokens, order):
    b, n, f = tokens.shape
    return tokens.reshape(b, CHANNELS, PATCHES, f)[:, :, order].reshape(b, n, f)


def test_parameter_counts_match_the_published_model():
    counts = parameter_counts(build_model(preset("tinymyo")))
    assert counts["encoder"] == 3_563_520
    assert counts["total"] == 3_567_380  # with the reconstruction head
    assert counts["blocks"] == 8 * counts["per_block"] == 8 * 444_864


def test_tinyissimo_has_half_the_blocks():
    counts = parameter_counts(build_model(preset("tinyissimo")))
    assert counts["encoder"] == 3_563_520 - 4 * 444_864


def test_time_rope_output_changes_when_patches_are_permuted_in_time(window):
    forward = _jit_forward(build_model(preset("tinymyo", rope="time")))
    order = np.random.default_rng(0).permutation(PATCHES)
    out = forward(window)
    out_permuted = forward(_permute_time(window, order))
    # Undo the permutation: a position-blind model would now agree to ~1e-6.
    difference = jnp.abs(_permute_tokens(out, order) - out_permuted).max()
    assert float(difference) > 1e-2


@pytest.mark.parametrize("rope", ["reference", "none"])
def test_position_blind_modes_are_permutation_equivariant(window, rope):
    forward = _jit_forward(build_model(preset("tinymyo", rope=rope)))
    order = np.random.default_rng(0).permutation(PATCHES)
    out = forward(window)
    out_permuted = forward(_permute_time(window, order))
    np.testing.assert_allclose(np.asarray(_permute_tokens(out, order)), np.asarray(out_permuted), atol=1e-5)


def test_time_rope_treats_channels_symmetrically(window):
    # Simultaneous patches of different channels share a position: permuting channels
    # permutes the outputs and nothing else.
    forward = _jit_forward(build_model(preset("tinymyo", rope="time")))
    order = np.random.default_rng(1).permutation(CHANNELS)
    out = forward(window).reshape(2, CHANNELS, PATCHES, PATCH)
    out_permuted = forward(window[:, order]).reshape(2, CHANNELS, PATCHES, PATCH)
    np.testing.assert_allclose(np.asarray(out[:, order]), np.asarray(out_permuted), atol=1e-5)


def test_padded_channels_change_nothing_in_valid_channel_outputs(window):
    model = build_model(preset("tinymyo"))
    forward = _jit_forward(model)
    real = 12
    channel_mask = jnp.arange(CHANNELS)[None, :].repeat(2, 0) < real
    zero_padded = window.at[:, real:].set(0.0)
    garbage_padded = window.at[:, real:].set(37.0 * jax.random.normal(jax.random.key(9), (2, CHANNELS - real, SAMPLES)))
    valid = real * PATCHES
    out_zero = forward(zero_padded, channel_mask)[:, :valid]
    out_garbage = forward(garbage_padded, channel_mask)[:, :valid]
    np.testing.assert_allclose(np.asarray(out_zero), np.asarray(out_garbage), atol=1e-5)
    # ... and they equal the model run on the real channels alone, without any padding.
    out_unpadded = jax.jit(lambda x: model(x))(window[:, :real])
    np.testing.assert_allclose(np.asarray(out_zero), np.asarray(out_unpadded), atol=1e-5)
    # Without the mask, padding does leak into the valid channels (the reference's behaviour).
    unmasked = forward(garbage_padded)[:, :valid]
    assert float(jnp.abs(unmasked - out_zero).max()) > 1e-3


def test_mean_fusion_classifier_ignores_padded_channels(window):
    model = build_model(preset("tinymyo", head="classification", num_outputs=6, fusion="mean"))
    forward = _jit_forward(model)
    channel_mask = jnp.arange(CHANNELS)[None, :].repeat(2, 0) < 8
    logits_a = forward(window.at[:, 8:].set(0.0), channel_mask)
    logits_b = forward(window.at[:, 8:].set(5.0), channel_mask)
    assert logits_a.shape == (2, 6)
    np.testing.assert_allclose(np.asarray(logits_a), np.asarray(logits_b), atol=1e-5)
    np.testing.assert_allclose(np.asarray(logits_a), np.asarray(model(window[:, :8])), atol=1e-5)


@pytest.mark.parametrize(
    "head,overrides,shape",
    [
        ("classification", dict(num_outputs=53, num_channels=16, fusion="concat"), (2, 53)),
        ("regression", dict(num_outputs=5, num_channels=16, reg_target_len=1000), (2, 1000, 5)),
        ("regression", dict(num_outputs=5, fusion="mean", reg_target_len=200), (2, 200, 5)),
        ("none", {}, (2, 800, 192)),
    ],
)
def test_heads_produce_their_documented_shapes(window, head, overrides, shape):
    model = build_model(preset("tinymyo", head=head, **overrides))
    assert _jit_forward(model)(window).shape == shape


def test_dropout_acts_only_when_rngs_are_given(window):
    model = build_model(preset("tinyissimo"))
    x = window[:1, :4, :200]
    deterministic = model(x)
    np.testing.assert_array_equal(np.asarray(deterministic), np.asarray(model(x)))
    noisy_a = model(x, rngs=nnx.Rngs(dropout=0))
    noisy_b = model(x, rngs=nnx.Rngs(dropout=0))
    noisy_c = model(x, rngs=nnx.Rngs(dropout=1))
    np.testing.assert_array_equal(np.asarray(noisy_a), np.asarray(noisy_b))  # reproducible from the key
    assert float(jnp.abs(noisy_a - deterministic).max()) > 1e-3
    assert float(jnp.abs(noisy_a - noisy_c).max()) > 1e-3


def test_input_length_must_be_a_multiple_of_the_patch_size():
    model = build_model(preset("tinyissimo"))
    with pytest.raises(ValueError, match="multiple of the patch size"):
        model(jnp.zeros((1, 4, 210)))


def test_analytic_flops_agree_with_xla_cost_analysis():
    model = build_model(preset("tinymyo"))
    graphdef, state = nnx.split(model)
    compiled = jax.jit(lambda s, x: nnx.merge(graphdef, s)(x)).lower(state, jnp.zeros((1, CHANNELS, SAMPLES))).compile()
    cost = compiled.cost_analysis()
    xla_flops = (cost[0] if isinstance(cost, (list, tuple)) else cost)["flops"]
    analytic = forward_flops(model.config, CHANNELS, SAMPLES)["total"]
    # XLA also counts element-wise work (softmax, GELU, LayerNorm) that the analytic count omits.
    assert analytic <= xla_flops <= 1.1 * analytic


def test_masked_tokens_at_the_same_time_get_the_same_reconstruction_whatever_their_channel():
    # An architectural property, documented in docs/pretrain.md: tokens carry no channel
    # identity, so masked tokens differ only by their time position.
    model = build_model(preset("tinyissimo", embed_dim=64, num_heads=2))
    x = jax.random.normal(jax.random.key(0), (1, 4, 200))
    token_mask = np.zeros((1, 40), bool)
    token_mask[0, [3, 13, 23, 5]] = True  # time position 3 of channels 0, 1, 2, and position 5
    out = np.asarray(model(x, token_mask=jnp.asarray(token_mask)))[0]
    np.testing.assert_array_equal(out[3], out[13])
    np.testing.assert_array_equal(out[3], out[23])
    assert np.abs(out[3] - out[5]).max() > 1e-3


def test_gelu_is_the_exact_erf_form():
    import math

    from tinymyo_jax.models.encoder import gelu

    xs = np.linspace(-10, 10, 2001)
    expected = np.array([x * 0.5 * (1 + math.erf(x / math.sqrt(2))) for x in xs])
    np.testing.assert_allclose(np.asarray(gelu(jnp.asarray(xs, jnp.float32))), expected, atol=2e-6)


def test_materialise_cotangent_is_the_identity_in_value_and_gradient():
    from tinymyo_jax.models.encoder import materialise_cotangent

    x = jax.random.normal(jax.random.key(0), (2, 5, 3))
    f = lambda x: (jnp.sin(materialise_cotangent(jnp.cos(x) * 2.0)) ** 2).sum()
    g = lambda x: (jnp.sin(jnp.cos(x) * 2.0) ** 2).sum()
    assert float(jax.jit(f)(x)) == float(g(x))
    np.testing.assert_array_equal(np.asarray(jax.jit(jax.grad(f))(x)), np.asarray(jax.jit(jax.grad(g))(x)))

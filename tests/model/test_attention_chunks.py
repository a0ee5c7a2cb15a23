"""Attention run in blocks of (samples, queries) computes the unblocked attention: same outputs,
same gradients, same dropout masks, with padded keys; and the block plan follows the budget."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tinymyo_jax.models import encoder
from tinymyo_jax.models.attention_backend import explicit_attention_chunks
from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.dropout import DropoutStream
from tinymyo_jax.models.tinymyo import TinyMyo

B, N, H, HD = 4, 24, 2, 8
BLOCKINGS = [(2, N), (1, 8), (2, 6)]  # samples only, queries of one sample, both


def _inputs():
    q, k, v, cotangent = (jax.random.normal(key, (B, N, H, HD)) for key in jax.random.split(jax.random.key(0), 4))
    # sample 1 attends to half its keys, sample 3 to none (a row of all-padded keys stays finite)
    key_mask = jnp.ones((B, N), bool).at[1, N // 2:].set(False).at[3].set(False)
    return q, k, v, cotangent, key_mask


def _rngs(rate):
    # a micro-batch holding global rows 5, 9, 13, 17: masks are keyed by those rows
    return DropoutStream(jax.random.key(3), jnp.arange(5, 5 + 4 * B, 4, dtype=jnp.uint32)) if rate else None


@pytest.mark.parametrize("rate", [0.0, 0.3])
@pytest.mark.parametrize("chunks", BLOCKINGS)
def test_blocked_attention_equals_the_whole_in_value_and_gradient(chunks, rate):
    q, k, v, cotangent, key_mask = _inputs()

    def loss(q, k, v, chunks):
        return (encoder.attend(q, k, v, key_mask, rate, _rngs(rate), chunks=chunks) * cotangent).sum()

    whole = encoder.attend(q, k, v, key_mask, rate, _rngs(rate), chunks=(B, N))
    blocked = encoder.attend(q, k, v, key_mask, rate, _rngs(rate), chunks=chunks)
    np.testing.assert_allclose(blocked, whole, atol=1e-5)
    whole_grads = jax.grad(loss, argnums=(0, 1, 2))(q, k, v, (B, N))
    blocked_grads = jax.grad(loss, argnums=(0, 1, 2))(q, k, v, chunks)
    for blocked_grad, whole_grad in zip(blocked_grads, whole_grads):
        np.testing.assert_allclose(blocked_grad, whole_grad, atol=1e-5)


def test_blocks_draw_the_whole_calls_dropout_mask():
    """With v = identity-like one-hot values, the output exposes which weights were dropped."""
    q, k, _, _, _ = _inputs()
    v = jnp.broadcast_to(jnp.eye(N)[None, :, None, :], (B, N, H, N))  # out[b, i, h] = weights row i
    dropped = lambda chunks: encoder.attend(q, k, v, None, 0.5, _rngs(0.5), chunks=chunks) == 0
    whole = dropped((B, N))
    assert 0.3 < float(whole.mean()) < 0.7
    for chunks in BLOCKINGS:
        assert bool(jnp.array_equal(dropped(chunks), whole)), chunks


def test_blocks_that_do_not_divide_the_batch_are_refused():
    q, k, v, _, key_mask = _inputs()
    with pytest.raises(ValueError, match="do not divide"):
        encoder.attend(q, k, v, key_mask, 0.0, None, chunks=(3, N))


def test_the_model_blocked_equals_the_model_whole(monkeypatch):
    """Forward and parameter gradients of a TinyMyo with padded channels and dropout on, with
    attention in blocks of one sample and 5 queries against the whole batch at once."""
    config = ModelConfig(patch_size=5, embed_dim=16, depth=2, num_heads=2, dropout=0.1, attention_dropout=0.2,
                         drop_path=0.1, head="reconstruction")
    graphdef, params = nnx.split(TinyMyo(config, rngs=nnx.Rngs(params=0)))
    x = jax.random.normal(jax.random.key(1), (3, 4, 20))
    channel_mask = jnp.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 1]], bool)
    token_mask = jax.random.bernoulli(jax.random.key(2), 0.5, (3, 16))

    def loss(params):
        model = nnx.merge(graphdef, params)
        out = model(x, token_mask=token_mask, channel_mask=channel_mask,
                    rngs=DropoutStream(jax.random.key(4), jnp.arange(3, dtype=jnp.uint32)))
        return (out**2).sum(), out

    plans = {}
    for name, plan in {"whole": lambda b, h, q, k: (b, q), "blocked": lambda b, h, q, k: (1, 4)}.items():
        monkeypatch.setattr(encoder, "explicit_attention_chunks", plan)
        (_, out), grads = jax.value_and_grad(loss, has_aux=True)(params)
        plans[name] = (out, grads)
    np.testing.assert_allclose(plans["blocked"][0], plans["whole"][0], rtol=1e-5, atol=1e-5)
    for blocked, whole in zip(jax.tree.leaves(plans["blocked"][1]), jax.tree.leaves(plans["whole"][1])):
        np.testing.assert_allclose(blocked, whole, rtol=1e-5, atol=1e-5)


def test_the_plan_keeps_each_block_within_the_budget():
    per_sample = 3 * 800 * 800 * 4  # the published shape's logits of one window: 7.7 MB
    assert explicit_attention_chunks(2, 3, 800, 800, budget_bytes=2 * per_sample) == (2, 800)
    assert explicit_attention_chunks(64, 3, 800, 800, budget_bytes=8 * per_sample) == (8, 800)
    assert explicit_attention_chunks(6, 3, 800, 800, budget_bytes=4 * per_sample) == (3, 800)  # a divisor of 6
    assert explicit_attention_chunks(64, 3, 800, 800, budget_bytes=per_sample // 3) == (1, 200)
    assert explicit_attention_chunks(7, 3, 799, 799, budget_bytes=per_sample // 8) == (1, 47)  # 799 = 17 x 47
    assert explicit_attention_chunks(1, 3, 800, 800, budget_bytes=1) == (1, 1)


def test_a_deterministic_forward_in_sample_groups_equals_the_whole_batch(monkeypatch):
    """model(x) without rngs, with padded channels and a token mask: run one sample at a time
    (what the CPU plan picks at the published shape) against the whole batch, value and gradient."""
    config = ModelConfig(patch_size=5, embed_dim=16, depth=2, num_heads=2, head="reconstruction")
    graphdef, params = nnx.split(TinyMyo(config, rngs=nnx.Rngs(params=0)))
    x = jax.random.normal(jax.random.key(1), (4, 4, 20))
    channel_mask = jnp.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 1], [0, 1, 1, 1]], bool)
    token_mask = jax.random.bernoulli(jax.random.key(2), 0.5, (4, 16))

    def loss(params, x):
        out = nnx.merge(graphdef, params)(x, token_mask=token_mask, channel_mask=channel_mask)
        return (out**2).sum(), out

    results = {}
    for group in (4, 2, 1):
        monkeypatch.setattr(encoder, "samples_per_group", lambda platform, batch, tokens, config, _g=group: _g)
        (_, out), grads = jax.value_and_grad(loss, has_aux=True, argnums=(0, 1))(params, x)
        results[group] = (out, jax.tree.leaves(grads))
    for group in (2, 1):
        np.testing.assert_allclose(results[group][0], results[4][0], rtol=1e-5, atol=1e-5)
        for grouped, whole in zip(results[group][1], results[4][1]):
            # float32 sums in another order: an error of a few ulps of the gradient's largest
            # entries (up to ~40 here) can land on a small one (1.4e-5 on the AMD EPYC CI host)
            np.testing.assert_allclose(grouped, whole, rtol=1e-5, atol=max(1e-5, 1e-6 * float(np.abs(whole).max())))


def test_the_cpu_forward_groups_samples_by_activation_size():
    published = ModelConfig()  # 192 wide, MLP 768: one window's MLP activations are 2.5 MB
    assert encoder.samples_per_group("cpu", 64, 800, published) == 1
    assert encoder.samples_per_group("cpu", 64, 800, published, budget_bytes=8 * 800 * 768 * 4) == 8
    small = ModelConfig(embed_dim=16, depth=2, num_heads=2, patch_size=5)  # MLP 64 wide
    assert encoder.samples_per_group("cpu", 6, 16, small, budget_bytes=3 * 16 * 64 * 4) == 3
    assert encoder.samples_per_group("gpu", 64, 800, published) == 64
    assert encoder.samples_per_group("tpu", 64, 800, published) == 64

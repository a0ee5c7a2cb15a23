"""Which attention kernel `encoder.attend` asks for: cuDNN only where its constraints hold.

No GPU here: the rule is a pure function of the backend's facts, and the dispatch is checked by
giving `attend` GPU facts and recording what it asks jax.nn.dot_product_attention for."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tinymyo_jax.models import encoder
from tinymyo_jax.models.attention_backend import BackendFacts, backend_facts, select_attention
from tinymyo_jax.models.config import preset

H200 = BackendFacts("gpu", cuda=True, compute_capability=(9, 0), cudnn_version=91000)
A100 = BackendFacts("gpu", cuda=True, compute_capability=(8, 0), cudnn_version=90100)
PUBLISHED = dict(dtype=jnp.bfloat16, head_dim=preset("tinymyo").head_dim, tokens=16 * 50, dropout_rate=0.0, has_key_mask=True)


def _with(**changes):
    return {**PUBLISHED, **changes}


def test_the_published_shape_gets_cudnn_on_a_cuda_gpu_in_bf16_without_attention_dropout():
    assert PUBLISHED["head_dim"] % 8 == 0  # the published model's heads qualify
    assert select_attention(H200, **PUBLISHED) == "cudnn"
    assert select_attention(A100, **_with(dtype=np.float16, has_key_mask=False)) == "cudnn"


@pytest.mark.parametrize(
    "facts,changes,expected",
    [
        (BackendFacts("cpu"), {}, "explicit"),
        (BackendFacts("tpu"), {}, "explicit"),
        (H200, {"dropout_rate": 0.1}, "explicit"),  # jax.nn.dot_product_attention has no dropout
        (H200, {"dtype": jnp.float32}, "xla"),  # cuDNN flash attention is fp16/bf16 only
        (H200, {"head_dim": 12}, "xla"),  # not a multiple of 8
        (H200, {"head_dim": 256}, "cudnn"),  # Hopper: up to 256
        (A100, {"head_dim": 256}, "xla"),  # before Hopper: up to 128
        (H200, {"head_dim": 264}, "xla"),
        (H200, {"tokens": 13 * 25}, "xla"),  # a key mask becomes a bias: even lengths only
        (H200, {"tokens": 13 * 25, "has_key_mask": False}, "cudnn"),
        (BackendFacts("gpu", cuda=False, compute_capability=None), {}, "xla"),  # ROCm: no cuDNN
        (BackendFacts("gpu", cuda=True, compute_capability=(7, 5)), {}, "xla"),  # before Ampere
        (BackendFacts("gpu", cuda=True, compute_capability=(10, 3), cudnn_version=91000), {}, "xla"),
        (BackendFacts("gpu", cuda=True, compute_capability=(10, 3), cudnn_version=91100), {}, "cudnn"),
    ],
)
def test_cudnn_is_requested_only_where_its_constraints_hold(facts, changes, expected):
    assert select_attention(facts, **_with(**changes)) == expected


def test_this_host_runs_the_explicit_form():
    assert backend_facts().platform == jax.default_backend()
    assert select_attention(backend_facts(), **PUBLISHED) == ("explicit" if jax.default_backend() != "gpu" else "cudnn")


@pytest.mark.parametrize("facts,dtype,dropout,expected", [(H200, jnp.bfloat16, 0.0, "cudnn"), (H200, jnp.float32, 0.0, "xla"),
                                                          (H200, jnp.bfloat16, 0.1, None)])
def test_attend_asks_for_the_selected_kernel_and_matches_the_explicit_form(monkeypatch, facts, dtype, dropout, expected):
    """On this CPU the recorded call runs XLA's form; its output must equal the explicit form's,
    padded keys included (one row of the batch has half its keys masked)."""
    keys = jax.random.split(jax.random.key(0), 3)
    q, k, v = (jax.random.normal(key, (2, 40, 2, 16), jnp.float32).astype(dtype) for key in keys)
    key_mask = jnp.ones((2, 40), bool).at[1, 20:].set(False)
    reference = encoder.attend(q, k, v, key_mask, 0.0, None)  # this host's explicit form

    asked = []
    xla_attention = jax.nn.dot_product_attention

    def recording(query, key, value, *, mask=None, implementation=None):
        asked.append(implementation)
        if implementation == "cudnn":  # jax's cuDNN check of a bias: full (queries, keys) in the last dims
            assert mask.shape[-2:] == (query.shape[1], key.shape[1]), mask.shape
        return xla_attention(query, key, value, mask=mask, implementation="xla")

    monkeypatch.setattr(encoder, "backend_facts", lambda: facts)
    monkeypatch.setattr(jax.nn, "dot_product_attention", recording)
    from flax import nnx

    out = encoder.attend(q, k, v, key_mask, dropout, nnx.Rngs(dropout=1) if dropout else None)
    assert asked == ([expected] if expected else [])
    if not dropout:
        tolerance = 2e-2 if dtype == jnp.bfloat16 else 1e-5
        np.testing.assert_allclose(np.asarray(out, np.float32), np.asarray(reference, np.float32), atol=tolerance)

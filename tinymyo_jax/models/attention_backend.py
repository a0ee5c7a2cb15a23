"""Which attention kernel a call gets: cuDNN's fused flash attention, XLA's fused form, or ours.

`jax.nn.dot_product_attention` without `implementation=` takes the XLA path on every backend;
cuDNN must be asked for by name, and it raises on inputs it does not support. `select_attention`
is a pure function of what the choice depends on, so the rule is testable without a GPU; the
encoder calls it at trace time with the facts of the default backend (`backend_facts`).

cuDNN flash attention (jax 0.10's checks in jax/_src/cudnn/fused_attention_stablehlo.py, and
cuDNN's own requirement of an Ampere or later GPU) needs:
  - a CUDA GPU of compute capability >= 8.0 (not ROCm, not CPU/TPU);
  - q, k, v in float16 or bfloat16 (`config.compute_dtype = "bfloat16"`; float32 never);
  - head dim a multiple of 8, at most 128 (256 from compute capability 9.0, Hopper);
  - no attention dropout: jax.nn.dot_product_attention has none, so a training step with
    `attention_dropout > 0` uses our explicit form (evaluation, which has no dropout, still gets
    cuDNN);
  - with a key mask (padded channels), which cuDNN receives as an additive bias: an even number
    of tokens (cuDNN's backward with a bias needs even query and key lengths), and the mask
    broadcast to (B, 1, N, N) by the caller (the bias's last two dims must be full; encoder.attend);
  - compute capability 10.3 needs cuDNN >= 9.11.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal

import numpy as np

Implementation = Literal["cudnn", "xla", "explicit"]
CUDNN_DTYPES = (np.dtype("float16"), np.dtype("bfloat16"))


@dataclasses.dataclass(frozen=True)
class BackendFacts:
    """What the choice needs to know about the machine."""

    platform: str  # jax.default_backend(): "cpu", "gpu" or "tpu"
    cuda: bool = False  # an NVIDIA GPU (cuDNN); False for ROCm
    compute_capability: tuple[int, int] | None = None  # e.g. (9, 0) for H100 / H200
    cudnn_version: int | None = None  # e.g. 91100 for 9.11.0


def select_attention(
    facts: BackendFacts, *, dtype, head_dim: int, tokens: int, dropout_rate: float, has_key_mask: bool
) -> Implementation:
    """"cudnn" (jax.nn.dot_product_attention(implementation="cudnn")), "xla" (the same API's XLA
    path, on a GPU where cuDNN does not apply) or "explicit" (encoder.attend's own form: CPU, TPU,
    and attention dropout, which jax.nn.dot_product_attention lacks)."""
    if dropout_rate > 0.0 or facts.platform != "gpu":
        return "explicit"
    return "cudnn" if cudnn_supports(facts, dtype=dtype, head_dim=head_dim, tokens=tokens, has_key_mask=has_key_mask) else "xla"


def cudnn_supports(facts: BackendFacts, *, dtype, head_dim: int, tokens: int, has_key_mask: bool) -> bool:
    """True when cuDNN's flash attention accepts this call (the list in the module docstring)."""
    capability = facts.compute_capability
    if not facts.cuda or capability is None or capability < (8, 0):
        return False
    if capability == (10, 3) and (facts.cudnn_version or 0) < 91100:
        return False
    if np.dtype(dtype) not in CUDNN_DTYPES:
        return False
    if head_dim % 8 != 0 or head_dim > (256 if capability >= (9, 0) else 128):
        return False
    return not (has_key_mask and tokens % 2 != 0)


@functools.cache
def backend_facts() -> BackendFacts:
    """The facts of jax's default backend (read once; the backend does not change in a process)."""
    import jax

    platform = jax.default_backend()
    if platform != "gpu":
        return BackendFacts(platform)
    device = jax.devices()[0]
    capability = getattr(device, "compute_capability", None)
    from jax.extend.backend import get_backend

    cuda = "cuda" in get_backend().platform_version.lower()
    version = None
    if cuda:
        try:
            from jax._src.lib import cuda_versions  # cuDNN's version; only for the 10.3 rule

            version = cuda_versions.cudnn_get_version() if cuda_versions is not None else None
        except (ImportError, AttributeError):
            version = None
    return BackendFacts(
        platform,
        cuda=cuda,
        compute_capability=tuple(int(part) for part in str(capability).split(".")[:2]) if capability else None,
        cudnn_version=version,
    )


# Most bytes of float32 logits one block of the explicit attention form holds at a time; set by
# measurement (docs/model.md, "CPU throughput").
LOGITS_BLOCK_BYTES = 8 << 20


def explicit_attention_chunks(batch: int, heads: int, queries: int, keys: int, *, budget_bytes: int = LOGITS_BLOCK_BYTES) -> tuple[int, int]:
    """(samples, queries) per block of the explicit attention form (encoder.attend).

    The whole call when its (batch, heads, queries, keys) float32 logits fit `budget_bytes`;
    otherwise the most samples whose logits fit, all queries each; and where one sample's do
    not fit, one sample at a time in the largest block of queries that fits (a divisor of
    `queries`; at least 1). Blocks run one after another (`jax.lax.map`), so the logits, their
    exponentials and the dropout mask of one block stay in cache while the next waits.
    """
    per_query = heads * keys * 4
    if batch * queries * per_query <= budget_bytes:
        return batch, queries
    if queries * per_query <= budget_bytes:
        samples = max(d for d in _divisors(batch) if d * queries * per_query <= budget_bytes)
        return samples, queries
    fitting = [d for d in _divisors(queries) if d * per_query <= budget_bytes]
    return 1, max(fitting, default=1)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]

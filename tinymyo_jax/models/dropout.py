"""Dropout whose keep masks come from a counter-based hash, and the module that applies it.

Why not `jax.random.bernoulli` (what `nnx.Dropout` uses): on XLA:CPU, threefry draws cost
about 5 ns per value; attention dropout alone draws 3 x 800 x 800 values per layer per window,
which made it a quarter of the pretraining step (docs/pretrain.md). Here one threefry draw
per call yields two 32-bit seeds, and each element's random word is a keyed hash of its
index: two rounds of the MurmurHash3 finaliser (a bijection on 32-bit words with full
avalanche), with the seeds mixed in before each round. That is a few vectorised integer ops
per element (0.3 ms instead of 10.5 ms for one block's attention-dropout words, docs/model.md)
and needs no state, so a mask is a pure function of (key, shape): the same key gives the same
mask on any backend and in the backward pass.

Masks are keyed per sample: the row counter of a mask is the sample's *global* index in the
training batch when the caller passes `DropoutStream(key, rows)` as `rngs` (the train step
does), so a sample's masks do not depend on how the batch is split into micro-batches or over
devices, and gradient accumulation gives exactly the whole batch's gradient
(tests/train/test_accumulation.py). A plain `nnx.Rngs` counts rows from 0 in each call.

The statistics a dropout mask needs (keep rate, no correlation between neighbours, none
between masks of different keys) are tested in tests/model/test_dropout.py; this is not a
cryptographic generator and is not used for anything else.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

_GOLDEN = np.uint32(0x9E3779B1)  # odd constant spreading consecutive indices over all bits
_ROW_SPREAD = np.uint32(0x7FEB352D)


def _fmix32(x: jax.Array) -> jax.Array:
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def random_words(
    key: jax.Array, shape: tuple[int, ...], rows: jax.Array | None = None, columns: jax.Array | None = None
) -> jax.Array:
    """uint32 words, one per element of `shape`, a pure function of (key, shape, rows).

    The counter is (row, flat index over the other axes), where row is the index along axis 0,
    or `rows[i]` for slice i when `rows` (shape[0],) is given (global sample indices). Shapes
    with more than 2**32 elements in all are fine as long as each leading slice has fewer.
    columns: the flat index over the other axes given explicitly, an integer array of
    shape[1:] (a block of a larger array passes its elements' indices in the whole, so the
    block gets exactly the whole's words: encoder.attend's query blocks do).
    """
    shape = tuple(int(d) for d in shape)
    if not shape:
        shape_2d = (1, 1)
    else:
        shape_2d = (shape[0], int(np.prod(shape[1:], dtype=np.int64)))
    if shape_2d[0] >= 2**32 or shape_2d[1] >= 2**32:
        raise ValueError(f"dropout shape {shape} has a slice of 2**32 or more elements")
    seeds = jax.random.bits(key, (2,), jnp.uint32)
    if rows is None:
        row = jax.lax.broadcasted_iota(jnp.uint32, shape_2d, 0)
    else:
        row = jnp.broadcast_to(jnp.asarray(rows).astype(jnp.uint32).reshape(shape_2d[0], 1), shape_2d)
    if columns is None:
        col = jax.lax.broadcasted_iota(jnp.uint32, shape_2d, 1)
    else:
        col = jnp.broadcast_to(jnp.asarray(columns).astype(jnp.uint32).reshape(1, shape_2d[1]), shape_2d)
    words = _fmix32(_fmix32(col * _GOLDEN + seeds[0]) ^ (row * _ROW_SPREAD + seeds[1]))
    return words.reshape(shape)


def keep_mask(
    key: jax.Array, shape: tuple[int, ...], rate: float, rows: jax.Array | None = None, columns: jax.Array | None = None
) -> jax.Array:
    """Boolean mask, True with probability 1 - rate (to 2**-32), independently per element.

    rows: global indices of the leading axis's slices; columns: explicit flat indices over the
    other axes (see `random_words`)."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    threshold = np.uint32(min(round(rate * 2.0**32), 2**32 - 1))
    return random_words(key, shape, rows, columns) >= threshold


def dropout(
    x: jax.Array, rate: float, key: jax.Array, broadcast_dims: tuple[int, ...] = (), rows: jax.Array | None = None
) -> jax.Array:
    """Inverted dropout: zero with probability `rate`, scale survivors by 1 / (1 - rate).

    broadcast_dims share one mask value along those axes (drop path: one value per sample);
    rows: global sample indices of x's leading axis (see `random_words`).
    """
    if rate == 0.0:
        return x
    shared = {axis % x.ndim for axis in broadcast_dims}
    mask_shape = tuple(1 if axis in shared else d for axis, d in enumerate(x.shape))
    keep = keep_mask(key, mask_shape, rate, rows)
    return jnp.where(keep, x * jnp.asarray(1.0 / (1.0 - rate), x.dtype), jnp.zeros((), x.dtype))


class DropoutStream:
    """What a train step passes as `rngs`: nnx.Rngs' dropout key stream plus row indices.

    `dropout()` yields the same keys as `nnx.Rngs(dropout=key).dropout()`; `rows` (B,) are the
    global batch indices of the samples in this call (a micro-batch holds rows i·k + j), which
    every mask uses as its row counter instead of the position within the call.
    """

    def __init__(self, key: jax.Array, rows: jax.Array):
        self._rngs = nnx.Rngs(dropout=key)
        self.rows = rows

    def dropout(self) -> jax.Array:
        return self._rngs.dropout()


def rows_of(rngs) -> jax.Array | None:
    """The global row indices `rngs` carries (a DropoutStream), else None (rows count from 0)."""
    return rngs.rows if isinstance(rngs, DropoutStream) else None


class Dropout(nnx.Module):
    """`dropout` as a module: active only when `rngs` (an nnx.Rngs with a `dropout` stream, or a
    DropoutStream) is passed."""

    def __init__(self, rate: float, *, broadcast_dims: tuple[int, ...] = ()):
        self.rate = rate
        self.broadcast_dims = tuple(broadcast_dims)

    def __call__(self, x: jax.Array, rngs: nnx.Rngs | None) -> jax.Array:
        if rngs is None or self.rate == 0.0:
            return x
        return dropout(x, self.rate, rngs.dropout(), self.broadcast_dims, rows_of(rngs))

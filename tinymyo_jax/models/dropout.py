"""Dropout whose keep masks come from a counter-based hash, and the module that applies it.

Why not `jax.random.bernoulli` (what `nnx.Dropout` uses): on XLA:CPU, threefry draws cost
about 5 ns per value; attention dropout alone draws 3 x 800 x 800 values per layer per window,
which made it a quarter of the pretraining step (docs/pretrain.md). Here one threefry draw
per call yields two 32-bit seeds, and each row of a mask (one sample) is a SplitMix32-style
stream: the element's flat index times an odd constant (a Weyl sequence, distinct for up to
2**32 elements), combined by XOR with a start drawn for the row, then one round of the
MurmurHash3 finaliser (a bijection on 32-bit words with full avalanche). The row's start is a
two-round hash of (seeds, row), computed once per row, not per element. That is one round of
a few vectorised integer ops per element (it was two rounds, the start folded into the
second, until 2026-12-07: docs/pretrain.md) and needs no state, so a mask is a pure function
of (key, shape, rows): the same key gives the same mask on any backend and in the backward pass.

Words within a row are all distinct (distinct counters through a bijection). Rows, and keys,
differ by their start, which enters by XOR: two rows share a word only at pseudo-random pairs
of positions, about as often as independent random words would. (Added instead, a start would
make one row's stream a shifted copy of another's whenever the two starts fell within n Weyl
steps of each other: probability about 2n/2**32 for rows of n elements.) The keep decision
compares the whole 32-bit word with round(rate * 2**32), so the keep probability is 1 - rate to
within 2**-32, as before.

Masks are keyed per sample: the row counter of a mask is the sample's *global* index in the
training batch when the caller passes `DropoutStream(key, rows)` as `rngs` (the train step
does), so a sample's masks do not depend on how the batch is split into micro-batches or over
devices, and gradient accumulation gives exactly the whole batch's gradient
(tests/train/test_accumulation.py). A plain `nnx.Rngs` counts rows from 0 in each call.

The statistics a dropout mask needs (keep rate, no correlation between neighbours, none
between the rows of one call at small shifts, none between masks of different keys, distinct
words within a row) are tested in tests/model/test_dropout.py; this is not a
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

    word = fmix32((column · golden) XOR start(key, row)), where row is the index along axis 0,
    or `rows[i]` for slice i when `rows` (shape[0],) is given (global sample indices), and
    column is the flat index over the other axes. Shapes with more than 2**32 elements in all
    are fine as long as each leading slice has fewer.
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
        row = jnp.arange(shape_2d[0], dtype=jnp.uint32)
    else:
        row = jnp.asarray(rows).astype(jnp.uint32).reshape(shape_2d[0])
    # One start per row (shape_2d[0] words): both rounds of the row hash are paid per row only.
    start = _fmix32(_fmix32(row * _ROW_SPREAD + seeds[1]) ^ seeds[0])
    if columns is None:
        col = jax.lax.broadcasted_iota(jnp.uint32, shape_2d, 1)
    else:
        col = jnp.broadcast_to(jnp.asarray(columns).astype(jnp.uint32).reshape(1, shape_2d[1]), shape_2d)
    words = _fmix32((col * _GOLDEN) ^ start[:, None])
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
    if not shared:
        keep = _hashed_once(keep, key)
    return jnp.where(keep, x * jnp.asarray(1.0 / (1.0 - rate), x.dtype), jnp.zeros((), x.dtype))


def _hashed_once(keep: jax.Array, key: jax.Array) -> jax.Array:
    """`keep` unchanged; on XLA:CPU computed into a buffer of its own, one byte per element.

    Why: XLA:CPU fuses the hash into every consumer of the mask, so the forward and each fusion
    of the backward that reads it (the MLP's hidden mask is read by up to four) recompute it.
    A conditional is a fusion boundary (as in encoder.materialise_cotangent): the mask is hashed
    once and read back. Its predicate comes from the key, so XLA cannot fold it; both branches
    return the mask. One window's MLP and projection masks, 0.9 MB per block, stay for the
    backward. Not used for the attention weights' mask: storing its 1.9 MB per block was slower
    than recomputing it (docs/pretrain.md, "Cheaper dropout masks").
    """
    if jax.default_backend() != "cpu":
        return keep
    seeds = jax.random.bits(key, (2,), jnp.uint32)
    one = jnp.ones((), jnp.uint8)
    as_bytes = jax.lax.cond(seeds[0] >= seeds[1], lambda m: m, lambda m: m ^ one ^ one, keep.astype(jnp.uint8))
    return as_bytes.astype(bool)


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

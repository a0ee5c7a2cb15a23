"""Rotary position embeddings (RoPE), interleaved-pair convention.

Feature pairs (2i, 2i+1) of each head are rotated by angle `position · base^(-2i/head_dim)`,
the convention of the reference (torchtune's RotaryPositionalEmbeddings), so reference weights
load unchanged. Tables are built with numpy at trace time: under jit they are constants, which
is also what the TFLite export needs (no SIN/COS ops in the graph).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def rotary_tables(positions: np.ndarray, head_dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """cos/sin tables of shape `positions.shape + (head_dim // 2,)`, float32."""
    inv_freq = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32)[: head_dim // 2] / head_dim))
    angles = np.asarray(positions, dtype=np.float32)[..., None] * inv_freq
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def rope_tables_for(
    mode: str, *, num_channels: int, patches_per_channel: int, num_heads: int, head_dim: int, base: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Tables broadcastable against q/k laid out (B, N, heads, head_dim // 2).

    - "time": token n = c·P + p (channel-major) sits at time position p, so every channel shares
      the same positions: shape (N, 1, head_dim/2).
    - "reference": the published code applies RoPE to (B, heads, N, D) tensors although the
      module expects (B, N, heads, D), so the angle is the *head index*: shape (1, heads,
      head_dim/2). q and k of one head get the same rotation, which cancels in q·k.
    - "none": no rotation.
    """
    if mode == "none":
        return None
    if mode == "time":
        positions = np.tile(np.arange(patches_per_channel), num_channels)[:, None]
    elif mode == "reference":
        positions = np.arange(num_heads)[None, :]
    else:
        raise ValueError(f"unknown rope mode {mode!r}")
    return rotary_tables(positions, head_dim, base)


def apply_rotary(x: jnp.ndarray, cos: np.ndarray, sin: np.ndarray) -> jnp.ndarray:
    """Rotate interleaved feature pairs of x (..., head_dim) by the given tables (..., head_dim/2)."""
    pairs = x.reshape(*x.shape[:-1], x.shape[-1] // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    cos = jnp.asarray(cos, dtype=x.dtype)
    sin = jnp.asarray(sin, dtype=x.dtype)
    rotated = jnp.stack([even * cos - odd * sin, odd * cos + even * sin], axis=-1)
    return rotated.reshape(x.shape)

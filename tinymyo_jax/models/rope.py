"""Rotary position embeddings (RoPE), interleaved-pair convention.

Feature pairs (2i, 2i+1) of each head are rotated by angle `position · base^(-2i/head_dim)`,
the convention of the reference (torchtune's RotaryPositionalEmbeddings), so reference weights
load unchanged. Tables are built with numpy at trace time: under jit they are constants, which
is also what the TFLite export needs (no SIN/COS ops in the graph).
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

# time_channel: the share of each head's rotary pairs that turn with the channel index, and the
# slowest channel frequency (rad per channel). Why (docs/model.md): the slowest quarter of the
# time ladder turns < 0.05 rad across a 50-patch window, so it carries almost no time; the
# channel axis has <= 16 positions, so its own ladder runs from 1 rad per channel (neighbours
# distinct) down to pi/32, at which offsets 0..15 stay within a quarter turn (monotone cosine).
CHANNEL_PAIR_FRACTION = 0.25
CHANNEL_SLOWEST_FREQUENCY = math.pi / 32


def rotary_tables(positions: np.ndarray, head_dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """cos/sin tables of shape `positions.shape + (head_dim // 2,)`, float32."""
    inv_freq = 1.0 / (base ** (np.arange(0, head_dim, 2, dtype=np.float32)[: head_dim // 2] / head_dim))
    angles = np.asarray(positions, dtype=np.float32)[..., None] * inv_freq
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def time_channel_frequencies(head_dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """(time frequencies, channel frequencies) of time_channel RoPE, rad per position.

    The first (fastest) pairs keep the standard ladder `base^(-2i/head_dim)` for the time index;
    the last quarter of the pairs (at least one) take a geometric ladder from 1 down to
    CHANNEL_SLOWEST_FREQUENCY for the channel index.
    """
    pairs = head_dim // 2
    channel_pairs = max(1, int(round(pairs * CHANNEL_PAIR_FRACTION)))
    time_pairs = pairs - channel_pairs
    time = 1.0 / (base ** (np.arange(time_pairs, dtype=np.float64) * 2.0 / head_dim))
    channel = np.geomspace(1.0, CHANNEL_SLOWEST_FREQUENCY, channel_pairs) if channel_pairs > 1 else np.ones(1)
    return time.astype(np.float32), channel.astype(np.float32)


def axial_rotary_tables(
    time_positions: np.ndarray, channel_positions: np.ndarray, head_dim: int, base: float
) -> tuple[np.ndarray, np.ndarray]:
    """cos/sin tables (..., head_dim // 2) of time_channel RoPE for tokens at the given (equal-
    shaped) time and channel positions: pairs [0, T) by time, [T, head_dim/2) by channel."""
    time_freq, channel_freq = time_channel_frequencies(head_dim, base)
    angles = np.concatenate(
        [np.asarray(time_positions, np.float32)[..., None] * time_freq,
         np.asarray(channel_positions, np.float32)[..., None] * channel_freq], axis=-1,
    )  # fmt: skip
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def rope_tables_for(
    mode: str, *, num_channels: int, patches_per_channel: int, num_heads: int, head_dim: int, base: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Tables broadcastable against q/k laid out (B, N, heads, head_dim // 2).

    - "time": token n = c·P + p (channel-major) sits at time position p, so every channel shares
      the same positions: shape (N, 1, head_dim/2).
    - "time_channel": token n = c·P + p at time p and channel c (axial_rotary_tables), so q·k
      depends on both the time and the channel offset: shape (N, 1, head_dim/2).
    - "reference": the published code applies RoPE to (B, heads, N, D) tensors although the
      module expects (B, N, heads, D), so the angle is the *head index*: shape (1, heads,
      head_dim/2). q and k of one head get the same rotation, which cancels in q·k.
    - "none": no rotation.
    """
    if mode == "none":
        return None
    if mode == "time":
        positions = np.tile(np.arange(patches_per_channel), num_channels)[:, None]
    elif mode == "time_channel":
        time = np.tile(np.arange(patches_per_channel), num_channels)[:, None]
        channel = np.repeat(np.arange(num_channels), patches_per_channel)[:, None]
        return axial_rotary_tables(time, channel, head_dim, base)
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

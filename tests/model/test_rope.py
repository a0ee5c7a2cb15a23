"""RoPE values: with rope="time" the attention score q·k of two rotated tokens depends only on
their offset in time (whatever their channels), and does depend on it; with rope="reference"
the rotation cancels in q·k (no position information, as the published code behaves).

Tables and rotation are the ones the encoder uses (`rope_tables_for`, `apply_rotary`, q/k laid
out (B, N, heads, head_dim), token n = c·P + p). Injected defects seen to fail here:
- rotating by the token index c·P + p instead of the time index p (`rope_tables_for`): the
  score-by-offset test, largest error 0.30 on unit vectors (the shift test alone would not
  see it: a constant channel offset survives shifts);
- a sign error in the rotation (`odd·cos - even·sin` in `apply_rotary`): five of the seven
  tests, largest error 0.28.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinymyo_jax.models.rope import apply_rotary, rope_tables_for

CHANNELS, PATCHES, HEADS, HEAD_DIM, BASE = 3, 50, 3, 64, 10_000.0  # the published layout, 3 channels
TOLERANCE = 1e-5  # q and k are unit vectors, so this is relative to |q|·|k|


def _unit_vectors(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(HEADS, HEAD_DIM))
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _scores(mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per head, q·k between the same q put at every token and the same k at every token,
    after rotation: (heads, C, P, C, P) indexed [h, c_q, p_q, c_k, p_k]; and q, k."""
    q, k = _unit_vectors(0), _unit_vectors(1)
    tokens = CHANNELS * PATCHES
    tables = rope_tables_for(mode, num_channels=CHANNELS, patches_per_channel=PATCHES, num_heads=HEADS,
                             head_dim=HEAD_DIM, base=BASE)
    rotate = lambda v: np.asarray(apply_rotary(np.broadcast_to(v, (1, tokens, HEADS, HEAD_DIM)), *tables))[0]
    scores = np.einsum("nhd,mhd->hnm", rotate(q).astype(np.float64), rotate(k).astype(np.float64))
    return scores.reshape(HEADS, CHANNELS, PATCHES, CHANNELS, PATCHES), q, k


def _expected_time_scores(q: np.ndarray, k: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """q·k after rotating q at position m and k at n, written as complex numbers: pairs
    (2i, 2i+1) turn by position·base^(-2i/head_dim), so q·k = Re Σ_i q_i conj(k_i) e^{i(m-n)θ_i}.
    offsets = m - n; returns (heads, *offsets.shape) in float64."""
    theta = BASE ** (-np.arange(0, HEAD_DIM, 2) / HEAD_DIM)
    zq = q[:, 0::2].astype(np.float64) + 1j * q[:, 1::2]
    zk = k[:, 0::2].astype(np.float64) + 1j * k[:, 1::2]
    phase = np.exp(1j * offsets[..., None] * theta)  # (*offsets, pairs)
    return np.real(np.einsum("hi,...i->h...", zq * np.conj(zk), phase))


def test_time_rope_score_depends_only_on_the_time_offset():
    scores, q, k = _scores("time")
    p_q, p_k = np.meshgrid(np.arange(PATCHES), np.arange(PATCHES), indexing="ij")
    expected = _expected_time_scores(q, k, (p_q - p_k).astype(np.float64))  # (heads, P, P)
    for c_q in range(CHANNELS):
        for c_k in range(CHANNELS):
            np.testing.assert_allclose(scores[:, c_q, :, c_k, :], expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("m, n", [(0, 0), (3, 7), (20, 4), (0, 49)])
def test_time_rope_score_is_unchanged_by_shifting_both_positions(m, n):
    scores, _, _ = _scores("time")
    for shift in range(-min(m, n), PATCHES - max(m, n)):
        np.testing.assert_allclose(scores[:, 0, m + shift, 1, n + shift], scores[:, 0, m, 1, n], rtol=0, atol=TOLERANCE)


def test_time_rope_score_does_depend_on_the_offset():
    """Not constant: over the offsets 0..49 (q after k, and q before k) every head's score
    spans more than 0.1, ten thousand times the tolerance above (seen: 0.17 to 0.32)."""
    scores, _, _ = _scores("time")
    for by_offset in ([scores[:, 0, d, 0, 0] for d in range(PATCHES)], [scores[:, 0, 0, 0, d] for d in range(PATCHES)]):
        assert np.ptp(np.asarray(by_offset), axis=0).min() > 0.1


def test_reference_rope_carries_no_position_in_the_score():
    """The published code rotates by head index, the same for q and k of a head: q·k equals the
    unrotated q·k for every pair of tokens, while the features themselves are rotated."""
    scores, q, k = _scores("reference")
    unrotated = np.einsum("hd,hd->h", q.astype(np.float64), k)
    np.testing.assert_allclose(scores, np.broadcast_to(unrotated[:, None, None, None, None], scores.shape),
                               rtol=0, atol=TOLERANCE)
    tables = rope_tables_for("reference", num_channels=CHANNELS, patches_per_channel=PATCHES, num_heads=HEADS,
                             head_dim=HEAD_DIM, base=BASE)
    rotated = np.asarray(apply_rotary(np.broadcast_to(q, (1, 1, HEADS, HEAD_DIM)), *tables))[0, 0]
    np.testing.assert_allclose(rotated[0], q[0], atol=1e-7)  # head 0: angle 0
    assert np.abs(rotated[1:] - q[1:]).max() > 0.1  # other heads: turned by their index

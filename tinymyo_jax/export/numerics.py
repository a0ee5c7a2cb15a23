"""Export-form numerics: GELU, LayerNorm, means and RoPE in forms TFLite Micro runs and int8 survives.

The training model uses exact (erf) GELU, a two-pass LayerNorm and rotary embeddings on
interleaved pairs. Exported as they are, they lower to ops TFLite Micro lacks (GELU, SELECT,
SIN/COS) or quantise badly (E[x²]−E[x]², and per-token scales spanning orders of magnitude).
These are the same functions in forms that lower to FULLY_CONNECTED / ADD / MUL / LOGISTIC /
RSQRT / SPLIT / CONCATENATION; docs/export.md gives the measured deviation of each and why
each was chosen.

GELU candidates (x·Φ(x) exactly; the sigmoid forms use 0.5·(1 + tanh(z)) = sigmoid(2z), so
they lower to LOGISTIC, never to a fused GELU op):
  "erf"      exact, reference only: lowers to an erf expansion with SELECT (no TFLM kernel).
  "erf_as"   0.5·(x + |x|·erf(|x|/√2)) with erf from Abramowitz & Stegun 7.1.26 (a degree-5
             polynomial in t = 1/(1 + p·|x|/√2) times exp(−x²/2)): max error 2.1e-7 (4.6e-7
             in float32). x·sign(x) = |x| removes the sign branch, so it lowers to
             ABS/DIV/EXP/MUL/ADD/SUB: the float export's form (TFLM runs them all in float;
             not in int8).
  "tanh"     x·σ(x·(1.5957691 + 0.0713548·x²)): the tanh approximation, max error 4.7e-4; the
             int8 export's form.
  "sigmoid"  x·σ(1.702·x): the crude one, max error 2.0e-2.
  "poly5"    x·σ(x·(a + b·s + c·s²)), s = min(x², 16): a fitted odd degree-5 polynomial inside
             the sigmoid, max error 7.8e-5. The clip keeps the polynomial monotone far out and
             gives the int8 tensor of s a small range; beyond |x| = 4 the sigmoid is saturated.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

# Minimax fit of x·σ(x·(a + b·s + c·s²)), s = min(x², 16), to x·Φ(x) on [−12, 12] (scipy
# Nelder-Mead on the log of the max error; `benchmarks/export_gelu.py --fit` re-derives it).
POLY5_COEFFS = (1.5965385, 0.072822736, -0.00053471714)
POLY5_CLIP = 16.0
_TANH_C1 = 1.5957691216057308  # 2·sqrt(2/π)
_TANH_C3 = 0.0713548162726009  # 2·sqrt(2/π)·0.044715

# Abramowitz & Stegun 7.1.26: erf(y) = 1 − t·(a1 + t·(a2 + ...))·exp(−y²), t = 1/(1 + p·y), y ≥ 0.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)

GELU_FORMS: tuple[str, ...] = ("erf", "erf_as", "tanh", "sigmoid", "poly5")


def gelu(x: jax.Array, form: str) -> jax.Array:
    """GELU of x in the named form (see the module docstring)."""
    if form == "erf":
        return jax.nn.gelu(x, approximate=False)
    if form == "erf_as":
        return _gelu_erf_as(x, jnp)
    if form == "tanh":
        # x·(c1 + c3·x²) rather than c1·x + c3·x³: the int8 tensor of x² spans a smaller range.
        return x * jax.nn.sigmoid(x * (_TANH_C1 + _TANH_C3 * (x * x)))
    if form == "sigmoid":
        return x * jax.nn.sigmoid(1.702 * x)
    if form == "poly5":
        a, b, c = POLY5_COEFFS
        s = jnp.minimum(x * x, POLY5_CLIP)
        return x * jax.nn.sigmoid(x * (a + s * (b + c * s)))
    raise ValueError(f"unknown GELU form {form!r}; choose from {GELU_FORMS}")


def gelu_max_error(form: str, lo: float = -12.0, hi: float = 12.0, points: int = 240_001) -> float:
    """max |gelu_form(x) − x·Φ(x)| over a grid, in float64 numpy (the form's own error)."""
    x = np.linspace(lo, hi, points)
    exact = x * scipy.special.ndtr(x)
    sig = scipy.special.expit
    if form == "erf":
        approx = exact
    elif form == "erf_as":
        approx = _gelu_erf_as(x, np)
    elif form == "tanh":
        approx = x * sig(x * (_TANH_C1 + _TANH_C3 * x * x))
    elif form == "sigmoid":
        approx = x * sig(1.702 * x)
    elif form == "poly5":
        a, b, c = POLY5_COEFFS
        s = np.minimum(x * x, POLY5_CLIP)
        approx = x * sig(x * (a + s * (b + c * s)))
    else:
        raise ValueError(f"unknown GELU form {form!r}; choose from {GELU_FORMS}")
    return float(np.abs(approx - exact).max())


def _gelu_erf_as(x, xp):
    magnitude = xp.abs(x)
    t = 1.0 / (1.0 + (_AS_P / np.sqrt(2.0)) * magnitude)
    a1, a2, a3, a4, a5 = _AS_A
    # exp(x²·(−1/2)) rather than exp(−y²): a constant multiply, no NEG op.
    erf = 1.0 - t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5)))) * xp.exp((x * x) * -0.5)
    return 0.5 * (x + magnitude * erf)


ATTENTION_FORMS: tuple[str, ...] = ("softmax", "ratio")


def attend(scores: jax.Array, values: jax.Array, form: str) -> jax.Array:
    """softmax(scores) @ values over the last axis of `scores` (..., N, M); values (..., hd, M).

    "softmax": one SOFTMAX op. Its int8 output has TFLite's fixed step 1/256 (scale 1/256, zero
    point -128): attention spread over hundreds of keys (weights ~1/400 each) falls below one
    step, and the weights' sum and their differences are lost (the worst op of the fine-tuned
    8 x 1000 models, docs/export.md).
    "ratio": e = exp(s - max(s)) in (0, 1], then (e @ v) / sum(e): the same function, but the
    weights are quantised relative to each row's largest (1 at the maximum) instead of to their
    sum, and the normaliser divides once per row after the value product. TFLite Micro has no
    int8 EXP, so e = σ(z) / (1 - σ(z)) for z = s - max(s) <= 0 (exactly exp(z)): LOGISTIC, SUB,
    DIV; the max is REDUCE_MAX and the row sum a product with a constant ones vector.
    Before the value product each row is multiplied by r = rsqrt(sum(e)), which cancels in the
    ratio: sum(e) runs from 1 (one key) to the number of keys (diffuse rows), and without r the
    products' per-tensor int8 grids were set by the diffuse rows, leaving sharp rows' numerator
    and sum a step or two (the worst ops of the demo's fine-tuned model, docs/export.md); with r
    both span sqrt(M) instead of M. (r = 1 / sum(e), i.e. softmax weights, puts diffuse rows'
    weights below one step again: measured far worse.)
    """
    if form == "softmax":
        return jnp.einsum("...nm,...dm->...nd", jax.nn.softmax(scores, axis=-1), values)
    if form == "ratio":
        shifted = scores - jnp.max(scores, axis=-1, keepdims=True)
        gate = jax.nn.sigmoid(shifted)
        weights = gate / (1.0 - gate)
        ones = jnp.ones((weights.shape[-1], 1), weights.dtype)
        weights = weights * jax.lax.rsqrt(weights @ ones)
        return jnp.einsum("...nm,...dm->...nd", weights, values) / (weights @ ones)
    raise ValueError(f"unknown attention form {form!r}; choose from {ATTENTION_FORMS}")


def mean_last(x: jax.Array) -> jax.Array:
    """Mean over the last axis, keepdims, as a product with a constant 1/n vector.

    It lowers to FULLY_CONNECTED with one output, whose int8 weights represent 1/n exactly
    (per-channel scale), instead of SUM/MEAN (SUM was badly wrong in 16x8 mode).
    """
    n = x.shape[-1]
    return x @ jnp.full((n, 1), 1.0 / n, dtype=x.dtype)


def mean_axis(x: jax.Array, axis: int) -> jax.Array:
    """Mean over `axis` (dropped) as a product with a constant 1/n vector, like `mean_last`.

    Pooling over time patches (the heads, the embedding output) would otherwise lower to SUM,
    whose int16 (16x8) kernel lost the pooled features (relative error 0.65 added at that op
    in a fine-tuned DB5 classifier, docs/export.md).
    """
    moved = jnp.moveaxis(x, axis, -1)
    return mean_last(moved)[..., 0]


def normalize(x: jax.Array, eps: float, *, centred: bool = False) -> jax.Array:
    """LayerNorm without its affine part, (x − E[x]) / sqrt(Var[x] + eps), centred variance.

    The centred form E[(x − E[x])²] keeps every intermediate near unit scale; E[x²] − E[x]²
    subtracts two large numbers and had the largest int8 error. With `centred=True` the caller
    guarantees E[x] = 0 per token (the export keeps its residual stream centred by folding the
    centring into the weights that write to it), so the mean and the subtraction are skipped:
    two ops and two int8 roundings fewer per LayerNorm. Scale and bias are folded into
    whatever linear layer follows (see export_form), or applied by the caller.
    """
    centred_x = x if centred else x - mean_last(x)
    return centred_x * jax.lax.rsqrt(mean_last(centred_x * centred_x) + eps)


def normalize_rescaled(
    patches: jax.Array, kernel: np.ndarray, bias: np.ndarray, eps: float, floors: tuple[float, ...]
) -> jax.Array:
    """normalize(patches @ kernel + bias) for a centred linear map, computed so int8 survives it.

    The first LayerNorm sees the patch embedding, whose per-token scale spans orders of
    magnitude (quiet and active channels): in int8 a quiet token is a fraction of one step and its
    variance rounds to zero, so the normalised value is noise (measured: relative error 1.7 at
    that RSQRT, the worst op of the model). LayerNorm is scale-invariant, so each token is
    rescaled first: c_1 = rsqrt(E[t²] + floor_1) from the coarse tokens t, then the tokens are
    recomputed from the patches as (patches · c) @ kernel + c · bias (precise, since the patches
    are the int8 input and c·t is near unit scale) and c refined with each further floor; the
    final normalisation is exact: y · rsqrt(E[y²] + eps · c²) with y = c · t equals
    t · rsqrt(E[t²] + eps) for any c > 0. The floors only bound c; they do not enter the result.
    """
    kernel, bias = jnp.asarray(kernel), jnp.asarray(bias)
    tokens = patches @ kernel + bias
    scale = jax.lax.rsqrt(mean_last(tokens * tokens) + floors[0])
    for floor in floors[1:]:
        rescaled = (patches * scale) @ kernel + scale * bias
        scale = scale * anchored_rms_rsqrt(rescaled, floor)
    rescaled = (patches * scale) @ kernel + scale * bias
    # eps·c² as (c·sqrt(eps))²: the int8 tensor of c² alone would span c_max² (~1e3).
    eps_term = scale * float(np.sqrt(eps))
    return rescaled * anchored_rms_rsqrt(rescaled, eps_term * eps_term)


def normalize_staged(x: jax.Array, eps: float, floors: tuple[float, ...]) -> jax.Array:
    """normalize(x, eps, centred=True), computed in stages so that each RSQRT sees a narrow range.

    The residual stream's per-token variance spans orders of magnitude (quiet and active
    channels), and one RSQRT over that range is the worst int8 / int16 op after the first norm
    (relative error 0.30 at block 0's second norm of a fine-tuned DB5 classifier in 16x8 mode;
    docs/export.md). As in `normalize_rescaled`: c = rsqrt(E[x²] + floor_1), refined by each
    further floor on the rescaled tokens y = c·x, then y · rsqrt(E[y²] + eps·c²), which equals
    x · rsqrt(E[x²] + eps) for any c > 0: the floors only bound the ranges, not the result.
    """
    scale = jax.lax.rsqrt(mean_last(x * x) + floors[0])
    for floor in floors[1:]:
        rescaled = x * scale
        scale = scale * anchored_rms_rsqrt(rescaled, floor)
    rescaled = x * scale
    eps_term = scale * float(np.sqrt(eps))
    return rescaled * anchored_rms_rsqrt(rescaled, eps_term * eps_term)


# Range anchors of the refining RSQRTs (anchored_rms_rsqrt): the int8 per-token scale c is
# trusted to within a factor 2, so E[(c·x)²] to within a factor 4 of its float value.
ANCHOR_RANGE = (0.25, 4.0)


def anchored_rms_rsqrt(y: jax.Array, addend: jax.Array | float) -> jax.Array:
    """rsqrt(E[y²] + addend) per token (y (..., N, D) -> (..., N, 1)), with the calibrated ranges of
    E[y²], the sum and the RSQRT widened to ANCHOR_RANGE.

    Why: a refining stage of normalize_staged / normalize_rescaled sees y = c·x with c from the
    previous stage, so in float E[y²] is ~1 for every active token and the calibration gives its
    int8 tensors a range of width ~0 (measured on the demo's fine-tuned UCI model: E[y²] in
    [0.9957, 0.9961]). In int8, c itself carries the error of its per-tensor grid (±20% for the
    loudest tokens), E[y²] lands outside that range and clips, and the RSQRT that should undo
    c's error outputs a constant (100% of its values at the clip): the staged norm degenerates to
    "multiply by the int8 c". Two constant anchor tokens with E[y²] = 1/4 and 4 make the
    calibrated ranges cover what int8 produces; they are sliced off after the RSQRT (the
    function is unchanged: CONCATENATION and SLICE only).
    """
    squares = y * y
    anchor_shape = (*squares.shape[:-2], len(ANCHOR_RANGE), squares.shape[-1])
    # a numpy constant of the full shape (jnp.broadcast_to would become a BROADCAST_TO op)
    anchors = np.broadcast_to(np.asarray(ANCHOR_RANGE, np.float32)[:, None], anchor_shape).copy()
    means = mean_last(jnp.concatenate([squares, anchors], axis=-2))
    if not isinstance(addend, float):
        zeros = np.zeros((*addend.shape[:-2], len(ANCHOR_RANGE), addend.shape[-1]), np.float32)
        addend = jnp.concatenate([addend, zeros], axis=-2)
    return jax.lax.rsqrt(means + addend)[..., : y.shape[-2], :]


def variance_floors(variance: np.ndarray, steps: int = 2, levels: int = 255) -> tuple[float, ...]:
    """Floors for normalize_staged from the calibration tokens' variances E[x²] (any shape): at
    each step the variance that one int8 step of the calibrated range represents."""
    variance = np.asarray(variance, np.float64)
    floors, scale = [], np.ones_like(variance)
    current = variance
    for _ in range(steps):
        floor = float(max(current.max() / levels, 1e-12))
        floors.append(floor)
        scale = scale / np.sqrt(current + floor)
        current = variance * scale**2
    return tuple(floors)


def rescale_floors(patches: np.ndarray, kernel: np.ndarray, bias: np.ndarray, steps: int = 2, levels: int = 255) -> tuple[float, ...]:
    """Floors for normalize_rescaled from calibration patches (n, N, patch): at each step the
    variance that one int8 step of the calibrated variance range represents."""
    tokens = np.asarray(patches, np.float64) @ kernel + bias
    variance = np.mean(tokens**2, axis=-1, keepdims=True)
    floors, scale = [], np.ones_like(variance)
    for _ in range(steps):
        floor = float(max(variance.max() / levels, 1e-12))
        floors.append(floor)
        scale = scale / np.sqrt(variance + floor)
        variance = np.mean((tokens * scale) ** 2, axis=-1, keepdims=True)
    return tuple(floors)


def centre_columns(kernel: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fold "subtract the mean over output features" into a linear layer (kernel (F, D), bias (D,)).

    y − mean(y) = h @ (K − mean_D(K)) + (b − mean(b)): every layer that writes to the residual
    stream is centred this way, so the stream has zero mean per token throughout. Every reader
    of the stream is a LayerNorm, which removes the mean anyway: the model's function is
    unchanged.
    """
    return kernel - kernel.mean(axis=1, keepdims=True), bias - bias.mean()


def half_split_permutation(num_heads: int, head_dim: int) -> np.ndarray:
    """Feature permutation from interleaved RoPE pairs to the half-split layout, per head.

    Within each head, features (0, 2, 4, ...) then (1, 3, 5, ...). Applied to the columns of
    both the q and the k projection it leaves q·k unchanged, and turns "rotate pair (2i, 2i+1)"
    into "rotate (i, i + hd/2)", which needs one SPLIT and one CONCATENATION instead of strided
    gathers. Returns int indices of length num_heads·head_dim.
    """
    within = np.concatenate([np.arange(0, head_dim, 2), np.arange(1, head_dim, 2)])
    return (np.arange(num_heads)[:, None] * head_dim + within[None, :]).reshape(-1)


def half_split_rope_tables(cos: np.ndarray, sin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(cos, sin) tables (..., hd/2) -> constant (..., hd) tables for the half-split layout.

    cos_full = [cos, cos]; sin_signed = [−sin, sin]: the sign of rotate-half is folded into the
    sin table, so rotate(x) = x·cos_full + swap_halves(x)·sin_signed, with swap_halves(x) =
    [x2, x1] (x1, x2 the two halves): no NEG op, no SIN/COS op.
    """
    return (
        np.concatenate([cos, cos], axis=-1).astype(np.float32),
        np.concatenate([-sin, sin], axis=-1).astype(np.float32),
    )


def rotate_half_split(x: jax.Array, cos_full: np.ndarray, sin_signed: np.ndarray) -> jax.Array:
    """Rotary embedding of x (..., hd) in half-split layout with constant tables (..., hd)."""
    first, second = jnp.split(x, 2, axis=-1)
    swapped = jnp.concatenate([second, first], axis=-1)
    return x * jnp.asarray(cos_full) + swapped * jnp.asarray(sin_signed)

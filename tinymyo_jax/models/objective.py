"""The pretraining task: patch masking and the reconstruction loss (input normalisation is in
`models/normalization.py`).

These functions define masked-reconstruction pretraining; the trainer, the evaluators
and the tests all call them, and nothing else re-implements them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

VISIBLE_WEIGHT = 0.1
# What the masked patches are reconstructed as (config.loss.target): "signal" the normalised
# samples (the reference); "rectified" their absolute values, whose conditional mean is the
# local amplitude envelope. On 200-Hz Myo EMG the samples of a hidden 100-ms patch are close to
# unpredictable (the model sat on the predict-zero loss for 500 steps) while the envelope is
# not, and encoders trained on it transfer (docs/transfer.md "Recipe"). "log_rectified"
# log(|x| + LOG_EPS) and "log_rms" log(patch RMS + LOG_EPS) (every sample of a patch carries its
# patch's value) put the envelope in log space, where a gain change is an offset: the log of the
# amplitude is what makes the classic features strong (docs/transfer.md, "Beating the log
# features"). "dct_abs" |orthonormal DCT-II| of each patch, coefficient k in the patch's slot k: the
# rectified and log targets carry a patch's level only, while the classic features that win with
# four labelled cycles also carry its spectral shape (zero crossings, slope-sign changes, waveform
# length); the conditional mean of |DCT_k| is the patch's expected magnitude in band k, predictable
# where its phase (the samples) is not, and the transform being orthonormal, its energy is the
# patch's (the level is still there). The decoder's output size (patch_size) is unchanged.
# "dct_log" log(|DCT_k| + LOG_EPS): the same in log space, where a gain change is an offset and
# the weak high bands weigh as much as the strong low ones (log_rectified raised the four-cycle
# session-standardised read-out on all three seeds, docs/transfer.md "Beating the log features").
TARGETS: tuple[str, ...] = ("signal", "rectified", "log_rectified", "log_rms", "dct_abs", "dct_log")
# The floor under the logs, in the units of the normalised input (window_scale: the window's
# max |x| is 1): a silent stretch reconstructs log(0.02) = -3.9 instead of -inf.
LOG_EPS = 0.02


# Which tokens a mask hides together (config.masking.pattern): "random" patches anywhere (the
# reference), "channel" whole channels (every patch of the chosen channels: the model must infer
# a muscle's activity from the others), "time" whole patch columns (the same patches of every
# channel: it must infer a stretch of time from its neighbours).
MASK_PATTERNS: tuple[str, ...] = ("random", "channel", "time")


def _lowest_ranks(key: jax.Array, valid: jax.Array, ratio: float) -> jax.Array:
    """(B, N) bool: per row, the int(ratio · n_valid) valid units with the lowest uniform scores."""
    scores = jnp.where(valid, jax.random.uniform(key, valid.shape), 2.0)  # invalid units sort last, never chosen
    # floor in float64-free arithmetic: counts are integers < 2^24, exact in float32
    counts = jnp.floor(ratio * valid.sum(axis=1, keepdims=True).astype(jnp.float32)).astype(jnp.int32)
    ranks = jnp.argsort(jnp.argsort(scores, axis=1), axis=1)
    return ranks < counts


def sample_patch_mask(
    key: jax.Array,
    batch: int,
    num_channels: int,
    patches_per_channel: int,
    ratio: float,
    channel_mask: jax.Array | None = None,
    pattern: str = "random",
) -> jax.Array:
    """(B, C·P) bool channel-major token mask; `pattern` (MASK_PATTERNS) says what is drawn.

    "random": exactly int(ratio · n_valid) tokens per sample, n_valid = C·P, or (real
    channels)·P when channel_mask (B, C) is given, in which case only tokens of real channels are
    masked. "channel": int(ratio · real channels) whole channels. "time": int(ratio · P) patch
    positions, hidden on every real channel. Drawn on device from `key`: the same key gives the
    same mask, and a training step uses fold_in(key, step).
    """
    real = jnp.ones((batch, num_channels), bool) if channel_mask is None else channel_mask.astype(bool)
    if pattern == "random":
        return _lowest_ranks(key, jnp.repeat(real, patches_per_channel, axis=1), ratio)
    if pattern == "channel":
        return jnp.repeat(_lowest_ranks(key, real, ratio), patches_per_channel, axis=1)
    if pattern == "time":
        columns = _lowest_ranks(key, jnp.ones((batch, patches_per_channel), bool), ratio)
        return jnp.tile(columns, (1, num_channels)) & jnp.repeat(real, patches_per_channel, axis=1)
    raise ValueError(f"mask pattern must be one of {MASK_PATTERNS}, got {pattern!r}")


def dct_matrix(n: int) -> jax.Array:
    """(n, n) orthonormal DCT-II: row k is s_k cos(pi (2m + 1) k / 2n) over samples m, s_0 =
    sqrt(1/n), s_k = sqrt(2/n); D @ D.T = I, so a patch and its coefficients have the same energy."""
    k = jnp.arange(n, dtype=jnp.float32)[:, None]
    m = jnp.arange(n, dtype=jnp.float32)[None, :]
    scale = jnp.where(k == 0, jnp.sqrt(1.0 / n), jnp.sqrt(2.0 / n))
    return scale * jnp.cos(jnp.pi * (2.0 * m + 1.0) * k / (2.0 * n))


def reconstruction_target(x: jax.Array, target: str, patch_size: int) -> jax.Array:
    """What the model reconstructs from the normalised input x (B, C, T), T a multiple of
    patch_size: x ("signal"), |x| ("rectified"), log(|x| + LOG_EPS) ("log_rectified"),
    log(RMS + LOG_EPS) of each patch of patch_size samples, repeated over its samples ("log_rms"),
    the magnitudes of each patch's orthonormal DCT-II, coefficient k in its sample k ("dct_abs"),
    or their log(| | + LOG_EPS) ("dct_log")."""
    if target not in TARGETS:
        raise ValueError(f"loss target must be one of {TARGETS}, got {target!r}")
    if target == "signal":
        return x
    if target == "rectified":
        return jnp.abs(x)
    if target == "log_rectified":
        return jnp.log(jnp.abs(x) + LOG_EPS)
    # the patch-wise targets: computed on (B, C, P, patch_size), returned as (B, C, T)
    patches = x.reshape(*x.shape[:2], x.shape[2] // patch_size, patch_size)
    if target == "log_rms":
        rms = jnp.sqrt(jnp.mean(jnp.square(patches), axis=-1, keepdims=True))
        return jnp.broadcast_to(jnp.log(rms + LOG_EPS), patches.shape).reshape(x.shape)
    # dct_abs, dct_log. HIGHEST: the default TPU/GPU matmul precision (bf16 passes) would round
    # the coefficients
    coefficients = jnp.einsum("km,bcpm->bcpk", dct_matrix(patch_size), patches, precision=jax.lax.Precision.HIGHEST)
    magnitudes = jnp.abs(coefficients)
    if target == "dct_log":
        magnitudes = jnp.log(magnitudes + LOG_EPS)
    return magnitudes.astype(x.dtype).reshape(x.shape)


def smooth_l1(prediction: jax.Array, target: jax.Array, beta: float = 1.0) -> jax.Array:
    """Element-wise SmoothL1 (Huber/beta), PyTorch's definition."""
    diff = jnp.abs(prediction - target)
    return jnp.where(diff < beta, 0.5 * diff**2 / beta, diff - 0.5 * beta)


def reconstruction_loss_terms(
    reconstruction: jax.Array,
    target: jax.Array,
    sample_mask: jax.Array,
    channel_mask: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """SmoothL1 sums and element counts over masked and visible samples (scalars).

    reconstruction, target, sample_mask: (B, C, T); channel_mask (B, C) excludes padded
    channels. Sums rather than means, so a batch split into micro-batches (gradient
    accumulation, data parallelism) can be normalised by the global counts and give exactly
    the loss of the whole batch.
    """
    elementwise = smooth_l1(reconstruction.astype(jnp.float32), target.astype(jnp.float32))
    masked = sample_mask.astype(jnp.float32)
    visible = 1.0 - masked
    if channel_mask is not None:
        real = channel_mask.astype(jnp.float32)[:, :, None]
        masked, visible = masked * real, visible * real
    return {
        "masked_sum": (elementwise * masked).sum(),
        "masked_count": masked.sum(),
        "visible_sum": (elementwise * visible).sum(),
        "visible_count": visible.sum(),
    }


def combine_loss_terms(terms: dict[str, jax.Array], visible_weight: float = VISIBLE_WEIGHT) -> dict[str, jax.Array]:
    """Means from (possibly accumulated) terms: masked mean + visible_weight × visible mean."""
    masked_loss = terms["masked_sum"] / jnp.maximum(terms["masked_count"], 1.0)
    visible_loss = terms["visible_sum"] / jnp.maximum(terms["visible_count"], 1.0)
    return {
        "loss": masked_loss + visible_weight * visible_loss,
        "masked_loss": masked_loss,
        "visible_loss": visible_loss,
    }


def reconstruction_loss(
    reconstruction: jax.Array,
    target: jax.Array,
    sample_mask: jax.Array,
    channel_mask: jax.Array | None = None,
    visible_weight: float = VISIBLE_WEIGHT,
) -> dict[str, jax.Array]:
    """SmoothL1 mean over masked samples + visible_weight × SmoothL1 mean over visible samples.

    reconstruction, target, sample_mask: (B, C, T); channel_mask (B, C) excludes padded channels
    from both means. Returns {"loss", "masked_loss", "visible_loss"} (scalars).
    """
    terms = reconstruction_loss_terms(reconstruction, target, sample_mask, channel_mask)
    return combine_loss_terms(terms, visible_weight)


def patches_to_signal(patches: jax.Array, num_channels: int) -> jax.Array:
    """(B, C·P, patch) channel-major patch predictions -> (B, C, T) signal."""
    batch, tokens, patch = patches.shape
    return patches.reshape(batch, num_channels, (tokens // num_channels) * patch)


def token_mask_to_sample_mask(token_mask: jax.Array, num_channels: int, patch_size: int) -> jax.Array:
    """(B, C·P) token mask -> (B, C, T) sample mask (each patch's samples share its flag)."""
    batch, tokens = token_mask.shape
    return jnp.repeat(token_mask, patch_size, axis=1).reshape(batch, num_channels, (tokens // num_channels) * patch_size)

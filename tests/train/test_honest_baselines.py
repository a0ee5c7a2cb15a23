"""time_interp and channel_mean baselines against a direct, loop-by-loop numpy computation."""

from __future__ import annotations

import numpy as np

from tinymyo_jax.train.no_model_baselines import baseline_predictions


def _direct(x: np.ndarray, token_mask: np.ndarray, patch: int, channel_mask: np.ndarray) -> dict[str, np.ndarray]:
    b, c, t = x.shape
    p = t // patch
    masked = token_mask.reshape(b, c, p)
    interp, cmean = x.astype(np.float64).copy(), x.astype(np.float64).copy()
    for i in range(b):
        for ch in range(c):
            visible_samples = [s for s in range(t) if not masked[i, ch, s // patch]]
            for j in range(p):
                if not masked[i, ch, j]:
                    continue
                for s in range(j * patch, (j + 1) * patch):
                    before = [v for v in visible_samples if v < s]
                    after = [v for v in visible_samples if v > s]
                    if before and after:
                        lo, hi = before[-1], after[0]
                        interp[i, ch, s] = x[i, ch, lo] + (x[i, ch, hi] - x[i, ch, lo]) * (s - lo) / (hi - lo)
                    elif before or after:
                        interp[i, ch, s] = x[i, ch, (before or after)[-1 if before else 0]]
                    else:
                        interp[i, ch, s] = 0.0
                others = [o for o in range(c) if o != ch and channel_mask[i, o] and not masked[i, o, j]]
                segment = slice(j * patch, (j + 1) * patch)
                cmean[i, ch, segment] = np.mean([x[i, o, segment] for o in others], axis=0) if others else 0.0
    return {"time_interp": interp, "channel_mean": cmean}


def test_time_interpolation_and_channel_mean_match_a_direct_computation():
    rng = np.random.default_rng(3)
    b, c, patch, p = 3, 5, 4, 6
    x = rng.normal(size=(b, c, p * patch)).astype(np.float32)
    token_mask = rng.random((b, c * p)) < 0.5
    token_mask[0, :p] = True  # a channel with every patch masked
    token_mask[1, :] = True  # a window with everything masked
    channel_mask = np.ones((b, c), bool)
    channel_mask[2, 4] = False  # a padded channel must not enter the channel mean
    x[2, 4] = 0.0
    ours = baseline_predictions(x, token_mask, patch, channel_mask)
    expected = _direct(x, token_mask, patch, channel_mask)
    for name in ("time_interp", "channel_mean"):
        np.testing.assert_allclose(ours[name], expected[name], atol=1e-6, err_msg=name)


def test_hand_computed_time_interpolation():
    # one channel, 4 patches of 2 samples, patches 1 and 2 masked: samples 1 (value 3) and 6
    # (value 13) are the nearest visible ones; the masked samples 2..5 lie on the line between.
    x = np.array([[[1.0, 3.0, 0, 0, 0, 0, 13.0, 5.0]]])
    predictions = baseline_predictions(x, np.array([[False, True, True, False]]), patch_size=2)
    np.testing.assert_allclose(predictions["time_interp"][0, 0], [1, 3, 5, 7, 9, 11, 13, 5])

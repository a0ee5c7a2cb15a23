"""How far below the channel mean can a masked patch be predicted from the other electrodes?

The trainer's `baseline_channel_mean_masked_loss` predicts a masked patch as the plain mean of
the window's other visible channels. On a high-density grid neighbouring electrodes are far more
alike than distant ones, so a predictor that weights them by their covariance can do better.
This benchmark measures how much better, without any neural network, to tell whether "≥ 30 %
below the best trivial predictor" is within reach of a model that has learned the grid:

- `channel_mean`: the trainer's baseline (train/no_model_baselines.py), same masks.
- `conditional_gaussian`: the best *linear* prediction of the masked channels from the channels
  visible at the same samples, E[x_M | x_V] = Σ_MV Σ_VV⁻¹ x_V, with the channel covariance Σ
  estimated on the training split (after the same input normalisation). It uses only the same
  time patch: no temporal context, no nonlinearity, so a model that sees both can do at least
  as well once it has learned Σ.
- `all_other_channels`: least squares from all 15 other channels with none masked; not
  reachable under masking, printed as the floor of spatial prediction on this data.

Masks come from the trainer's own `sample_patch_mask` (exactly half of each window's patches),
the loss is the trainer's masked SmoothL1. Prints one JSON object.

    .venv/bin/python benchmarks/spatial_oracle.py --data_dir runs/real_emg/tfds --dataset generic/openhdemg
"""

from __future__ import annotations

import argparse
import json

import jax
import numpy as np

from tinymyo_jax.data.source import WindowShards
from tinymyo_jax.models.normalization import normalize
from tinymyo_jax.models.objective import sample_patch_mask, smooth_l1
from tinymyo_jax.train.no_model_baselines import baseline_predictions


def load_windows(dataset: str, split: str, data_dir: str, normalization: str) -> np.ndarray:
    """(N, C, T) float64 windows of a prepared split under the pretraining normalisation."""
    source = WindowShards(dataset, split, data_dir=data_dir, fields=("emg", "channel_mask"))
    batch = source.read_batch(np.arange(len(source)))
    x = normalize(np.asarray(batch["emg"], np.float32), normalization, np.asarray(batch["channel_mask"], bool))
    return np.asarray(x, np.float64)


def masked_loss(prediction: np.ndarray, x: np.ndarray, sample_mask: np.ndarray) -> float:
    """The trainer's masked SmoothL1 (objective.smooth_l1, beta 1): mean over masked samples."""
    return float(np.asarray(smooth_l1(prediction, x), np.float64)[sample_mask].mean())


def conditional_gaussian(x: np.ndarray, patch_masked: np.ndarray, covariance: np.ndarray, patch: int) -> np.ndarray:
    """Each masked patch predicted as E[x_masked | x_visible] at the same samples."""
    out = x.copy()
    windows, channels, patches = patch_masked.shape
    ridge = 1e-6 * np.trace(covariance) / channels * np.eye(channels)
    for b in range(windows):
        for p in range(patches):
            masked = patch_masked[b, :, p]
            if not masked.any():
                continue
            span = slice(p * patch, (p + 1) * patch)
            visible = ~masked
            if not visible.any():
                out[b, masked, span] = 0.0
                continue
            gain = covariance[np.ix_(masked, visible)] @ np.linalg.inv(covariance[np.ix_(visible, visible)] + ridge[np.ix_(visible, visible)])
            out[b, masked, span] = gain @ x[b, visible, span]
    return out


def all_other_channels(train: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Least squares of each channel on all the others, fitted on the training split."""
    channels = x.shape[1]
    fit = train.transpose(0, 2, 1).reshape(-1, channels)
    flat = x.transpose(0, 2, 1).reshape(-1, channels)
    out = np.empty_like(flat)
    for c in range(channels):
        others = [j for j in range(channels) if j != c]
        weights, *_ = np.linalg.lstsq(fit[:, others], fit[:, c], rcond=None)
        out[:, c] = flat[:, others] @ weights
    return out.reshape(x.shape[0], x.shape[2], channels).transpose(0, 2, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", required=True, help="TFDS data dir holding the prepared dataset")
    parser.add_argument("--dataset", default="generic/openhdemg", help="prepared dataset (one fixed electrode layout)")
    parser.add_argument("--split", default="validation", help="held-out split to predict")
    parser.add_argument("--normalization", default="window_scale", help="pretraining input normalisation")
    parser.add_argument("--patch", type=int, default=20, help="patch size in samples")
    parser.add_argument("--mask_ratio", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0, help="seed of the masks")
    args = parser.parse_args()

    train = load_windows(args.dataset, "train", args.data_dir, args.normalization)
    held = load_windows(args.dataset, args.split, args.data_dir, args.normalization)
    windows, channels, samples = held.shape
    patches = samples // args.patch
    token_mask = np.asarray(sample_patch_mask(jax.random.key(args.seed), windows, channels, patches, args.mask_ratio))
    patch_masked = token_mask.reshape(windows, channels, patches)
    sample_mask = np.repeat(patch_masked, args.patch, axis=2)

    flat = train.transpose(0, 2, 1).reshape(-1, channels)
    covariance = flat.T @ flat / len(flat)
    losses = {name: masked_loss(np.asarray(p, np.float64), held, sample_mask)
              for name, p in baseline_predictions(held.astype(np.float32), token_mask, args.patch).items()}
    losses["conditional_gaussian"] = masked_loss(conditional_gaussian(held, patch_masked, covariance, args.patch), held, sample_mask)
    losses["all_other_channels"] = masked_loss(all_other_channels(train, held), held, sample_mask)
    trivial = min(losses[k] for k in ("zero", "neighbour_level", "neighbour_mean", "time_interp", "channel_mean"))
    print(json.dumps({
        "dataset": args.dataset, "split": args.split, "windows": windows, "channels": channels,
        "normalization": args.normalization, "seed": args.seed, "masked_loss": losses,
        "ratio_to_best_trivial": {k: v / trivial for k, v in losses.items()},
    }, indent=1))


if __name__ == "__main__":
    main()

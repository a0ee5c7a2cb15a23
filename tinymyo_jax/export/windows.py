"""Windows for calibration and evaluation: from a prepared dataset split, or synthetic.

`load_windows("ninapro_db5/train", ...)` reads prepared window records (tinymyo_jax.data.source)
and keeps the first C channels; `load_windows("synthetic", ...)` makes labelled synthetic gesture
windows with the package's EMG signal model and preprocessing chain (for tests, benchmarks and
exports without prepared data). Both give float32 (n, C, T) windows in the units the model
takes (z-scored EMG).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from tinymyo_jax.data import signal
from tinymyo_jax.data.source import WindowShards
from tinymyo_jax.data.synth import emg_model
from tinymyo_jax.errors import UserError

SYNTHETIC = "synthetic"
# The full-int8 input range of a model whose input is not normalised per window ("none"): this
# percentile of |x| over every calibration sample (docs/export.md, "The int8 input range of an unnormalised model").
INT8_INPUT_PERCENTILE = 99.0


@dataclasses.dataclass
class ExportWindows:
    """float32 emg (n, C, T); labels (n,) int or None; targets (n, T, K) float or None."""

    emg: np.ndarray
    labels: np.ndarray | None
    targets: np.ndarray | None
    source: str

    def __len__(self) -> int:
        return int(self.emg.shape[0])

    def take(self, count: int) -> "ExportWindows":
        return ExportWindows(
            self.emg[:count],
            None if self.labels is None else self.labels[:count],
            None if self.targets is None else self.targets[:count],
            self.source,
        )


def int8_input_limit(emg: np.ndarray, normalization: str) -> float | None:
    """L of the symmetric range [-L, L] a full-int8 model's input is calibrated to, or None to
    keep the calibration windows' own range (min to max).

    Why: int8 quantises the input with one scale per tensor, which the calibration range sets.
    A model that reads the prepared z-scores as they are (normalisation "none", the default of a
    random-init fine-tune) sees windows whose amplitude spans two orders of magnitude: on real UCI
    the loudest calibration window reaches |x| = 14.1 while the test subjects' rest windows have
    RMS 0.09-0.16, so with the full range they are about one input step (0.11) and int8 loses
    them (measured: full int8 agreed with float on 95% of the test windows, relative RMS logit
    error 0.33). Calibrating to the 99th percentile of |x| (4.1 there) makes the step 0.03; the
    loudest 1% of samples saturate at the int8 input (the device's quantisation clamps them),
    which the float model's decisions tolerate (TFLM 99%, LiteRT 98%, error 0.11; docs/export.md). Models with a
    per-window normalisation (window_scale, minmax_channel) already fill [-1, 1] with every
    window: their range is kept.
    """
    if normalization != "none" or emg.size == 0:
        return None
    return float(np.percentile(np.abs(np.asarray(emg, np.float64)), INT8_INPUT_PERCENTILE))


def clip_windows(windows: "ExportWindows", limit: float | None) -> "ExportWindows":
    """`windows` with emg clipped to [-limit, limit] (unchanged for limit None)."""
    if limit is None:
        return windows
    return ExportWindows(np.clip(windows.emg, -limit, limit).astype(np.float32), windows.labels, windows.targets, windows.source)


def parse_split(text: str) -> tuple[str, str | None, str]:
    """"name/split" or "name/config/split" -> (name, config, split)."""
    parts = [p for p in text.split("/") if p]
    if len(parts) == 2:
        return parts[0], None, parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise UserError(f"expected <tfds dataset>/<split> (or <dataset>/<config>/<split>), got {text!r}")


def load_windows(
    source: str,
    *,
    channels: int,
    samples: int,
    count: int,
    data_dir: str | Path | None = None,
    seed: int = 0,
    num_classes: int = 6,
) -> ExportWindows:
    """Up to `count` windows of shape (channels, samples) from `source` (see the module docstring).

    Dataset windows are drawn at random without replacement (seeded) from the whole split;
    count 0 takes the whole split.
    """
    if source == SYNTHETIC:
        if count < 1:
            raise UserError("synthetic windows need a count >= 1")
        return synthetic_windows(count, channels, samples, num_classes=num_classes, seed=seed)
    name, config, split = parse_split(source)

    shards = WindowShards(name, split, data_dir=data_dir, config=config)
    if len(shards) == 0:
        raise UserError(f"{shards.directory}: split {split!r} holds no windows")
    rng = np.random.default_rng(seed)
    take = len(shards) if count < 1 else min(count, len(shards))
    indices = np.sort(rng.permutation(len(shards))[:take])
    batch = shards.read_batch(indices)
    emg = batch["emg"]
    if emg.shape[-1] != samples:
        raise UserError(
            f"{source}: windows are {emg.shape[-1]} samples long but the export takes {samples}; "
            f"export with --samples {emg.shape[-1]} or use a dataset prepared at {samples}"
        )
    mask = batch.get("channel_mask")
    if mask is not None and mask[:, channels:].any():
        real = int(mask.sum(axis=1).max())
        raise UserError(
            f"{source}: windows have up to {real} real channels but the export takes {channels}; "
            f"export with --channels {real}"
        )
    return ExportWindows(
        emg=emg[:, :channels].astype(np.float32),
        labels=None if "label" not in batch else batch["label"].astype(np.int64),
        targets=None if "target" not in batch else batch["target"].astype(np.float32),
        source=f"{source} ({shards.directory})",
    )


def synthetic_windows(
    count: int, channels: int, samples: int, *, num_classes: int = 6, fs: float = 1000.0, seed: int = 0
) -> ExportWindows:
    """Labelled synthetic gesture windows: each window one gesture held at a constant effort.

    One recording of `count` back-to-back windows is synthesised with the package's EMG model
    (tinymyo_jax.data.synth.emg_model; gesture -> channel activation patterns shared across
    seeds) and preprocessed as real recordings are (20-450 Hz band-pass, 50 Hz notch, z-score),
    then cut into windows. Gestures are separable by their per-channel RMS.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, num_classes, count)
    patterns = emg_model.gesture_activation_patterns(num_classes, channels, seed=0)
    per_sample = np.repeat(labels, samples)
    activation = emg_model.activation_from_labels(per_sample, patterns, fs, ramp_s=0.0, rng=rng, subject_variation=0.1)
    emg = emg_model.synthesize_emg(rng, activation, fs)
    emg = signal.preprocess(emg, fs, band=(20.0, 450.0), notch_hz=50.0)
    windows = emg.reshape(count, samples, channels).transpose(0, 2, 1)
    return ExportWindows(np.ascontiguousarray(windows, np.float32), labels.astype(np.int64), None, f"synthetic (seed {seed})")

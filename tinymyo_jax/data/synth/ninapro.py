"""Synthetic NinaPro DB5 / DB6 / DB7 / DB8 corpora in the published file layouts and formats.

Each file follows the fixture recipes of datasets.md (§3.3, §4.3, §5.3, §6.4): the real folder
and file names, the real variable names, (T, C) single time series, (T, 1) int8 label vectors,
(1, 1) double scalars, char scalars, and the real files' quirks:

- DB5: `s<N>/S<N>_E<m>_A1.mat`, 16 Myo channels at 200 Hz holding integer ADC counts in
  [-128, 127]; `restimulus` restarts at 1 in every exercise; `stimulus` lags `restimulus` by a
  few samples; the in-file `exercise` is rotated (E1 file says 3, E2 says 1, E3 says 2).
- DB6: `DB6_s<N>_a/S<N>_D1_T1.mat`, `..._T2.mat`, 16 columns of volts at 2 kHz with columns 8
  and 9 exactly zero, grasp ids {1, 3, 4, 6, 9, 10, 11} x 12 repetitions, scalars `subj`,
  `daytesting`, `time`, `acc` (T, 48); plus the `.DS_Store` / `__MACOSX/._*` clutter the real
  zips carry.
- DB7: `Subject_<N>/S<N>_E<e>_A1.mat`, 12 channels, 17 + 23 movements x 6 repetitions; with
  two or more subjects the last one is subject 22 whose file says `subject` = 2.
- DB8: flat `S<N>_E1_A<k>.mat`, k = 1, 2, 3 (10, 10, 2 repetitions of 9 movements), 16
  channels, `glove` (T, 18) in degrees with a few NaN rows, `acc`/`gyro`/`mag` (T, 48); with
  two or more subjects the last one is the amputee S11 whose file says `subject` = 101 and whose
  emg columns 13-15 are zero.

Signals: EMG comes from `emg_model`, driven by `block_protocol` labels through per-gesture
activation patterns shared by every subject of a corpus (plus per-subject variation), so a
classifier can learn the gestures. DB8 is built for regression: a hidden posture per movement,
modulated by slow latents, drives both the EMG activation and the glove angles through fixed
linear maps, so the angles are predictable from EMG amplitude. Delsys EMG (DB6-DB8) is scaled
to ~2e-5 V RMS at full activation and quantised to a 2^-22 V (~0.24 uV) step, like a 16-bit ADC;
quantised values also let zlib compress the files as MATLAB's `-v7` format does. Gloves are
held at 100 Hz on the 2 kHz grid. IMU columns are placeholders (constant per protocol block,
coarsely quantised): nothing reads them, but readers must skip such large variables.

Sizes at duration_scale = 1 and two subjects: about 40 MB for the four corpora together,
written in ~5 s on one core (see `_MOVE_S` / `_REST_S`). Output is a function of (dataset,
seed, subject, file) only, byte for byte, so adding subjects leaves the existing files
unchanged. `mat_format="v7.3"` writes the same variables as
MATLAB `-v7.3` (HDF5) files (writers in `matwriter`).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Iterator, Literal

import numpy as np

from tinymyo_jax.data.synth import check_writer_args, emg_model
from tinymyo_jax.data.synth.matwriter import MatVariable, save_mat
from tinymyo_jax.errors import UserError
# What each per-corpus writer yields: (path relative to the corpus root, variables of that file).
_FileSpec = tuple[pathlib.Path, dict[str, MatVariable]]

DATASETS = ("ninapro_db5", "ninapro_db6", "ninapro_db7", "ninapro_db8")

# Block durations at duration_scale = 1, in seconds. Far shorter than the real 5 s / 4 s blocks
# (the files would be GBs); long enough that a 1000-sample window at 2 kHz can sit inside a
# movement's centre and a DB5 1-s window can start inside one.
_MOVE_S = {"ninapro_db5": 1.0, "ninapro_db6": 0.4, "ninapro_db7": 0.3, "ninapro_db8": 0.3}
_REST_S = {"ninapro_db5": 0.8, "ninapro_db6": 0.25, "ninapro_db7": 0.2, "ninapro_db8": 0.2}

_DELSYS_FS = 2000.0
_MYO_FS = 200.0
# Full-activation EMG RMS in volts (Delsys) and in Myo counts (DB5).
_DELSYS_VOLTS_PER_UNIT = 2e-5
_DELSYS_LSB_VOLTS = 2.0**-22
_MYO_COUNTS_PER_UNIT = 25.0
_SUBJECT_VARIATION = 0.2
_GLOVE_FS = 100.0  # Cyberglove rate before the upsampling to the EMG grid
_POWERLINE_HZ = 50.0  # NinaPro was recorded in Switzerland / Italy

_DB5_MOVEMENTS = {1: 12, 2: 17, 3: 23}
_DB5_OFFSETS = {1: 0, 2: 12, 3: 29}
_DB5_IN_FILE_EXERCISE = {1: 3, 2: 1, 3: 2}  # the real files' rotation (datasets.md §2)
_DB6_GRASPS = (1, 3, 4, 6, 9, 10, 11)
_DB7_MOVEMENTS = {1: 17, 2: 23}
_DB7_OFFSETS = {1: 0, 2: 17}
_DB8_MOVEMENTS = 9
_DB8_REPETITIONS = {1: 10, 2: 10, 3: 2}
_DB8_LATENTS = 6
_DB8_AMPUTEE, _DB8_AMPUTEE_IN_FILE, _DB8_AMPUTEE_DEAD = 11, 101, (13, 14, 15)
_DB7_LAST_SUBJECT, _DB7_LAST_SUBJECT_IN_FILE = 22, 2


def write_raw_corpus(
    dataset: str,
    out_dir: pathlib.Path,
    *,
    seed: int = 0,
    num_subjects: int = 2,
    duration_scale: float = 1.0,
    mat_format: Literal["v5", "v7.3"] = "v5",
) -> list[pathlib.Path]:
    """Write a synthetic raw corpus of `dataset` under `out_dir`, laid out as the real one.

    Args:
      dataset: "ninapro_db5", "ninapro_db6", "ninapro_db7" or "ninapro_db8".
      out_dir: corpus root (created if missing).
      seed: fixes every value written.
      num_subjects: number of subjects; >= 2 brings in the special subjects described in the
        module docstring (DB7 subject 22, DB8 amputee S11).
      duration_scale: multiplies every movement and rest block (all repetitions are always
        written, so every repetition-based split is non-empty).
      mat_format: "v5" (MATLAB -v7, compressed; what the real files are) or "v7.3" (HDF5).

    Returns:
      The .mat files written, sorted (the macOS clutter files of DB6 are not listed).
    """
    check_writer_args(dataset, DATASETS, num_subjects, duration_scale)
    if mat_format not in ("v5", "v7.3"):
        raise UserError(f"mat_format must be 'v5' or 'v7.3', got {mat_format!r}")
    out_dir = pathlib.Path(out_dir)
    writer = {
        "ninapro_db5": _write_db5,
        "ninapro_db6": _write_db6,
        "ninapro_db7": _write_db7,
        "ninapro_db8": _write_db8,
    }[dataset]
    timing = _Timing(_MOVE_S[dataset] * duration_scale, _REST_S[dataset] * duration_scale)
    files = []
    for relative, variables in writer(seed, num_subjects, timing):
        path = out_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        save_mat(path, variables, mat_format=mat_format)
        files.append(path)
    if dataset == "ninapro_db6":
        _write_macos_clutter(out_dir, files)
    return sorted(files)


def _write_macos_clutter(out_dir: pathlib.Path, files: list[pathlib.Path]) -> None:
    """What the real DB6 zips also unpack: Finder's `.DS_Store` and AppleDouble `._*` files
    under `__MACOSX/`. The latter end in `.mat` but are not MAT files; readers must skip both."""
    for path in files:
        (path.parent / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(24))
        apple_double = out_dir / "__MACOSX" / path.parent.relative_to(out_dir) / f"._{path.name}"
        apple_double.parent.mkdir(parents=True, exist_ok=True)
        apple_double.write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(32))


# --------------------------------------------------------------------------------------------
# Shared signal pieces


@dataclasses.dataclass(frozen=True)
class _Timing:
    """Movement and rest block lengths in seconds for one corpus."""

    move_s: float
    rest_s: float

    def ramp_s(self) -> float:
        # A third of a movement at most, so short (scaled-down) movements still reach full effort.
        return min(0.1, self.move_s / 3)


def _rng(seed: int, dataset: str, subject: int, file_key: int) -> np.random.Generator:
    """One independent stream per (corpus, subject, file): files do not depend on each other."""
    return np.random.default_rng([seed, DATASETS.index(dataset), subject, file_key])


def _subject_patterns(patterns: np.ndarray, seed: int, dataset: str, subject: int) -> np.ndarray:
    """The corpus patterns with this subject's fixed electrode/anatomy factors (same in every file)."""
    rng = _rng(seed, dataset, subject, 0)
    return (patterns * np.exp(_SUBJECT_VARIATION * rng.standard_normal(patterns.shape))).astype(np.float32)


def _unit_emg(
    rng: np.random.Generator, labels: np.ndarray, patterns: np.ndarray, fs: float, timing: _Timing
) -> np.ndarray:
    """Unit-scale EMG [T, C] for movement labels indexing `patterns` rows (0 = rest)."""
    activation = emg_model.activation_from_labels(
        labels, patterns, fs, ramp_s=timing.ramp_s(), rng=rng, subject_variation=0.0
    )
    return emg_model.synthesize_emg(rng, activation, fs, powerline_hz=_POWERLINE_HZ)


def _to_volts(unit_emg: np.ndarray) -> np.ndarray:
    """Unit-scale EMG -> float32 volts on a 2^-22 V grid (a 16-bit ADC's step, roughly)."""
    counts = np.round(unit_emg.astype(np.float64) * (_DELSYS_VOLTS_PER_UNIT / _DELSYS_LSB_VOLTS))
    return (counts * _DELSYS_LSB_VOLTS).astype(np.float32)


def _held(signal: np.ndarray, fs: float, native_fs: float) -> np.ndarray:
    """`signal` [T, K] as if sampled at `native_fs` and upsampled to `fs` by sample-and-hold.

    The real files put the slow sensors (glove, IMU) on the EMG's 2 kHz grid; how they were
    upsampled is not documented. Holding is one plausible way, and it keeps the glove arrays
    compressible, which the corpus size budget needs."""
    period = fs / native_fs
    index = (np.floor(np.arange(signal.shape[0]) / period) * period).astype(np.int64)
    return signal[index]


def _column(values: np.ndarray) -> np.ndarray:
    """A per-sample label vector as MATLAB stores it: (T, 1) int8."""
    return np.asarray(values, dtype=np.int8).reshape(-1, 1)


def _delayed(values: np.ndarray, samples: int) -> np.ndarray:
    """`values` shifted `samples` later (the cue `stimulus` vs. the refined `restimulus`)."""
    return np.concatenate([np.zeros(samples, values.dtype), values[: values.size - samples]])


def _imu(rng: np.random.Generator, labels: np.ndarray, columns: int, step: float) -> np.ndarray:
    """Placeholder IMU (T, columns): a fixed sensor orientation plus a small offset per protocol
    block (the forearm settles into a new pose for each movement and rest), quantised to `step`.

    Piecewise constant on purpose: nothing reads these columns, and long constant runs keep the
    (T, 48) arrays cheap to compress, while the readers still have to skip real-sized variables.
    """
    segment = np.concatenate([[0], np.cumsum(labels[1:] != labels[:-1])])
    base = rng.uniform(-1.0, 1.0, columns)
    offsets = 0.05 * rng.standard_normal((int(segment[-1]) + 1, columns))
    return (np.round((base + offsets[segment]) / step) * step).astype(np.float32)


def _protocol_labels(
    num_movements: int, repetitions: int, fs: float, timing: _Timing, movement_ids: tuple[int, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    return emg_model.block_protocol(
        num_movements, repetitions, fs, move_s=timing.move_s, rest_s=timing.rest_s, movement_ids=movement_ids
    )


def _label_variables(labels: np.ndarray, repetition: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """`restimulus` / `rerepetition` as generated, `stimulus` / `repetition` a few samples later."""
    lag = int(rng.integers(2, 6))
    return {
        "stimulus": _column(_delayed(labels, lag)),
        "restimulus": _column(labels),
        "repetition": _column(_delayed(repetition, lag)),
        "rerepetition": _column(repetition),
    }


# --------------------------------------------------------------------------------------------
# Per-corpus writers: each yields (path relative to the corpus root, variables)


def _write_db5(seed: int, num_subjects: int, timing: _Timing) -> Iterator[_FileSpec]:
    dataset, fs = "ninapro_db5", _MYO_FS
    patterns = emg_model.gesture_activation_patterns(53, 16, seed=seed)  # global ids 0..52
    for subject in range(1, num_subjects + 1):
        subject_patterns = _subject_patterns(patterns, seed, dataset, subject)
        for exercise, count in _DB5_MOVEMENTS.items():
            rng = _rng(seed, dataset, subject, exercise)
            labels, repetition = _protocol_labels(count, 6, fs, timing)
            global_labels = np.where(labels > 0, labels + _DB5_OFFSETS[exercise], 0)
            unit = _unit_emg(rng, global_labels, subject_patterns, fs, timing)
            emg = np.clip(np.round(unit * _MYO_COUNTS_PER_UNIT), -128, 127).astype(np.float32)
            num_samples = labels.size
            hand_latents = emg_model.smooth_latents(rng, num_samples, 4, fs, cutoff_hz=1.0)
            # Cyberglove-like integer readings from 22 sensors; nothing downstream uses DB5's glove.
            glove = np.round(60 + 20 * hand_latents @ rng.uniform(0, 1, (4, 22))).astype(np.float32)
            variables: dict[str, MatVariable] = {
                "emg": emg,
                "acc": _imu(rng, labels, 6, 1.0 / 64),  # two Myo 3-axis accelerometers
                "glove": glove,
                **_label_variables(labels, repetition, rng),
                "subject": float(subject),
                "exercise": float(_DB5_IN_FILE_EXERCISE[exercise]),
                "frequency": 200.0,
                "sensor": "Double Myo",
                "laterality": "r",
                "age": float(20 + subject % 15),
                "gender": "m" if subject % 2 else "f",
            }
            yield pathlib.Path(f"s{subject}") / f"S{subject}_E{exercise}_A1.mat", variables


def _write_db6(seed: int, num_subjects: int, timing: _Timing) -> Iterator[_FileSpec]:
    dataset, fs = "ninapro_db6", _DELSYS_FS
    patterns = emg_model.gesture_activation_patterns(max(_DB6_GRASPS) + 1, 14, seed=seed)
    for subject in range(1, num_subjects + 1):
        subject_patterns = _subject_patterns(patterns, seed, dataset, subject)
        for time in (1, 2):
            day = 1
            rng = _rng(seed, dataset, subject, time)
            labels, repetition = _protocol_labels(len(_DB6_GRASPS), 12, fs, timing, _DB6_GRASPS)
            electrodes = _to_volts(_unit_emg(rng, labels, subject_patterns, fs, timing))
            # 14 electrodes in 16 columns: columns 8 and 9 are exactly zero in every real file.
            emg = np.zeros((labels.size, 16), dtype=np.float32)
            emg[:, :8], emg[:, 10:] = electrodes[:, :8], electrodes[:, 8:]
            # Each grasp is done on two objects, alternating over the repetitions.
            grasp_index = np.searchsorted(_DB6_GRASPS, labels)
            obj = np.where(labels > 0, 2 * grasp_index + 1 + (repetition + 1) % 2, 0)
            label_vars = _label_variables(labels, repetition, rng)
            variables: dict[str, MatVariable] = {
                "emg": emg,
                "acc": _imu(rng, labels, 48, 1.0 / 64),
                **label_vars,
                "object": _column(_delayed(obj, 3)),
                "reobject": _column(obj),
                "repetition_object": _column(np.where(labels > 0, (repetition + 1) // 2, 0)),
                "subj": float(subject),
                "daytesting": float(day),
                "time": float(time),
            }
            yield pathlib.Path(f"DB6_s{subject}_a") / f"S{subject}_D{day}_T{time}.mat", variables


def _write_db7(seed: int, num_subjects: int, timing: _Timing) -> Iterator[_FileSpec]:
    dataset, fs = "ninapro_db7", _DELSYS_FS
    patterns = emg_model.gesture_activation_patterns(41, 12, seed=seed)  # global ids 0..40
    subjects = list(range(1, num_subjects + 1))
    if num_subjects >= 2:
        subjects[-1] = _DB7_LAST_SUBJECT
    for subject in subjects:
        subject_patterns = _subject_patterns(patterns, seed, dataset, subject)
        for exercise, count in _DB7_MOVEMENTS.items():
            rng = _rng(seed, dataset, subject, exercise)
            labels, repetition = _protocol_labels(count, 6, fs, timing)
            global_labels = np.where(labels > 0, labels + _DB7_OFFSETS[exercise], 0)
            emg = _to_volts(_unit_emg(rng, global_labels, subject_patterns, fs, timing))
            latents = emg_model.smooth_latents(rng, labels.size, 4, fs, cutoff_hz=1.0)
            angles = 20 + 60 * latents @ rng.uniform(0, 1, (4, 18)) / 4
            glove = _held(angles, fs, _GLOVE_FS).astype(np.float32)
            in_file_subject = _DB7_LAST_SUBJECT_IN_FILE if subject == _DB7_LAST_SUBJECT else subject
            variables: dict[str, MatVariable] = {
                "emg": emg,
                "acc": _imu(rng, labels, 36, 1.0 / 64),
                "glove": glove,
                **_label_variables(labels, repetition, rng),
                "subject": float(in_file_subject),
                "exercise": float(exercise),
            }
            yield pathlib.Path(f"Subject_{subject}") / f"S{subject}_E{exercise}_A1.mat", variables


def _write_db8(seed: int, num_subjects: int, timing: _Timing) -> Iterator[_FileSpec]:
    dataset, fs = "ninapro_db8", _DELSYS_FS
    # Corpus-level maps shared by all subjects: movement -> hidden posture, posture -> muscle
    # activation (16 electrodes) and posture -> glove angles (18 DoFs, degrees).
    maps_rng = np.random.default_rng([seed, DATASETS.index(dataset)])
    postures = emg_model.gesture_activation_patterns(_DB8_MOVEMENTS + 1, _DB8_LATENTS, seed=seed)
    to_activation = maps_rng.uniform(0.0, 1.0, (_DB8_LATENTS, 16)) ** 2
    to_activation /= to_activation.sum(axis=0, keepdims=True)
    to_glove = maps_rng.uniform(-70.0, 70.0, (_DB8_LATENTS, 18))
    rest_pose = maps_rng.uniform(-10.0, 30.0, 18)
    subjects = list(range(1, num_subjects + 1))
    if num_subjects >= 2:
        subjects[-1] = _DB8_AMPUTEE
    for subject in subjects:
        subject_rng = _rng(seed, dataset, subject, 0)
        subject_activation = to_activation * np.exp(
            _SUBJECT_VARIATION * subject_rng.standard_normal(to_activation.shape)
        )
        for acquisition, repetitions in _DB8_REPETITIONS.items():
            rng = _rng(seed, dataset, subject, acquisition)
            labels, repetition = _protocol_labels(_DB8_MOVEMENTS, repetitions, fs, timing)
            posture = emg_model.activation_from_labels(
                labels, postures, fs, ramp_s=timing.ramp_s(), rng=rng, subject_variation=0.0
            )
            # Slow latents modulate how far each movement goes, so targets vary within a class.
            latent = posture * (0.5 + emg_model.smooth_latents(rng, labels.size, _DB8_LATENTS, fs, cutoff_hz=1.5))
            activation = np.maximum(latent @ subject_activation, 0.0) + 0.02
            emg = _to_volts(emg_model.synthesize_emg(rng, activation, fs, powerline_hz=_POWERLINE_HZ))
            glove = _held(rest_pose + latent @ to_glove, fs, _GLOVE_FS).astype(np.float32)
            _insert_glove_nans(rng, glove)
            in_file_subject = subject
            if subject == _DB8_AMPUTEE:
                emg[:, list(_DB8_AMPUTEE_DEAD)] = 0.0  # 13 sensors fitted on the residual limb
                in_file_subject = _DB8_AMPUTEE_IN_FILE
            variables: dict[str, MatVariable] = {
                "emg": emg,
                "acc": _imu(rng, labels, 48, 1.0 / 64),
                "gyro": _imu(rng, labels, 48, 1.0 / 16),
                "mag": _imu(rng, labels, 48, 1.0 / 16),
                "glove": glove,
                **_label_variables(labels, repetition, rng),
                "subject": float(in_file_subject),
                "exercise": 1.0,
            }
            yield pathlib.Path(f"S{subject}_E1_A{acquisition}.mat"), variables


def _insert_glove_nans(rng: np.random.Generator, glove: np.ndarray) -> None:
    """A few NaN time steps, in place: one short all-column dropout and three single rows with a
    NaN in one column (one of them a column the DoA map does not use; TinyMyo drops those too)."""
    num_samples = glove.shape[0]
    if num_samples < 100:
        return
    start = int(rng.integers(10, num_samples - 20))
    glove[start : start + 5] = np.nan
    for column in (2, 8, 13):  # 8 = glove column 9, unused by the DoA matrix
        glove[int(rng.integers(0, num_samples)), column] = np.nan

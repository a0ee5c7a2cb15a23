"""Synthetic emg2pose corpus: `metadata.csv` plus one HDF5 file per hand per stage (datasets.md §9.3).

Per subject: one session, two stages; the first stage recorded on both wrists (two files,
`_left` / `_right`, as the real corpus stores each band separately), the second on the left only:
3 files of `BASE_SAMPLES` x duration_scale samples (2.5 s at 2 kHz), ~0.75 MB each.

Splits, following the corpus's generalisation design: with >= 2 subjects the last subject is a
held-out user (all its files "test"), the others' first stage is "train" and second stage a
held-out stage ("val"). A single subject gets one file of each split.

Signals: K = `NUM_LATENTS` slow latents in [0, 1] (`smooth_latents`, the hand's "intent") drive
both the EMG (activation = a non-negative mix of the latents, through `synthesize_emg`) and the
20 joint angles (another linear map of the same latents plus a rest pose), so the angles are
learnable from the EMG envelope. Each file has an IK-failure stretch (all 20 angles exactly 0)
of `ik_failure_samples(T)` samples starting at T // 2, as Meta's files have when hand tracking
was lost. EMG is stored unit-scale float32 (the real files' units are undocumented).
"""

from __future__ import annotations

import csv
import pathlib
from typing import Any, Mapping, Sequence

import h5py
import numpy as np

from tinymyo_jax.data.corpora.emg2pose import NAME
from tinymyo_jax.data.synth import check_writer_args, emg_model

FS = 2000.0
NUM_CHANNELS = 16
NUM_JOINTS = 20
NUM_LATENTS = 4
BASE_SAMPLES = 5000
IK_FAILURE_FRACTION = 0.04
METADATA_COLUMNS: tuple[str, ...] = (
    "user", "session", "stage", "side", "moving_hand", "held_out_user", "held_out_stage",
    "split", "generalization", "start", "end", "filename",
)  # fmt: skip
# (stage name, sides recorded). Names in the style of the corpus's stages.
_STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("FingerFreeform", ("left", "right")),
    ("HandClawGraspFlicks", ("left",)),
)
_FIRST_SESSION_UNIX = 1_670_313_600  # 2022-12-06, the date in Meta's mini split


def timeseries_dtype(joint_dtype: str = "<f4") -> np.dtype:
    """Compound dtype of `emg2pose/timeseries`: time f8, joint_angles [20], emg f4 [16].

    Real files store joint angles as float32, Meta's test fixture as float64 ("<f8").
    """
    return np.dtype([("time", "<f8"), ("joint_angles", joint_dtype, (NUM_JOINTS,)), ("emg", "<f4", (NUM_CHANNELS,))])


def ik_failure_samples(num_samples: int) -> int:
    """Length of the all-zero joint-angle stretch written into a file of `num_samples` samples."""
    return max(1, int(round(IK_FAILURE_FRACTION * num_samples)))


def write_hdf5(
    path: pathlib.Path,
    *,
    time: np.ndarray,
    joint_angles: np.ndarray,
    emg: np.ndarray,
    attrs: Mapping[str, Any],
    joint_dtype: str = "<f4",
) -> None:
    """Write one emg2pose file: group `emg2pose`, compound dataset `timeseries`, group attrs.

    Args:
      path: output `.hdf5`.
      time: float64 [T], unix seconds.
      joint_angles: [T, 20] radians.
      emg: [T, 16].
      attrs: group attributes (strings and numbers).
      joint_dtype: storage dtype of the joint angles ("<f4" as in the real files, or "<f8").
    """
    table = np.empty(time.shape[0], dtype=timeseries_dtype(joint_dtype))
    table["time"], table["joint_angles"], table["emg"] = time, joint_angles, emg
    with h5py.File(path, "w") as handle:
        group = handle.create_group("emg2pose")
        group.create_dataset("timeseries", data=table)
        for key, value in attrs.items():
            group.attrs[key] = value


def write_metadata_csv(path: pathlib.Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write `metadata.csv` with the corpus's columns (`METADATA_COLUMNS`), one row per file."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=METADATA_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row[key] for key in METADATA_COLUMNS})


def write_raw_corpus(
    dataset: str,
    out_dir: pathlib.Path,
    *,
    seed: int = 0,
    num_subjects: int = 2,
    duration_scale: float = 1.0,
) -> list[pathlib.Path]:
    """Write a synthetic emg2pose corpus under `out_dir`.

    Args:
      dataset: must be "emg2pose".
      out_dir: corpus root (created); receives `metadata.csv` and the `.hdf5` files.
      seed: fixes every file's content.
      num_subjects: number of users (3 files each).
      duration_scale: multiplies the 5 000-sample length of each file.

    Returns:
      the `.hdf5` files written, sorted by path (the order `readers.emg2pose.list_files` gives).
    """
    check_writer_args(dataset, (NAME,), num_subjects, duration_scale)
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    num_samples = max(200, int(round(BASE_SAMPLES * duration_scale)))
    # Corpus-wide maps (shared by all users, so a regressor can generalise across them).
    corpus_rng = np.random.default_rng([seed, 0])
    # Each latent is a muscle group under a contiguous arc of the wristband: a smooth bump of
    # channels around its centre (as real muscles are), not a scatter of unrelated channels,
    # which volume conduction in synthesize_emg would blur away.
    centres = (np.arange(NUM_LATENTS) + corpus_rng.uniform(-0.3, 0.3, NUM_LATENTS)) * NUM_CHANNELS / NUM_LATENTS
    widths = corpus_rng.uniform(1.0, 2.0, NUM_LATENTS)
    offset = np.abs(np.arange(NUM_CHANNELS)[None, :] - centres[:, None])
    ring_distance = np.minimum(offset, NUM_CHANNELS - offset)
    emg_mix = np.exp(-0.5 * (ring_distance / widths[:, None]) ** 2) + 0.02
    emg_mix /= emg_mix.sum(axis=0, keepdims=True)  # each channel's activation stays in [0, 1]
    angle_map = corpus_rng.normal(0.0, 0.6, (NUM_LATENTS, NUM_JOINTS))
    rest_pose = corpus_rng.uniform(0.1, 0.4, NUM_JOINTS)  # radians; never ~0, so IK failures stand out

    rows: list[dict[str, Any]] = []
    written: list[pathlib.Path] = []
    for subject in range(num_subjects):
        user_rng = np.random.default_rng([seed, 1, subject])
        user = user_rng.bytes(5).hex()
        session_start = _FIRST_SESSION_UNIX + 86_400 * subject + int(user_rng.integers(0, 36_000))
        session = f"{_date(session_start)}-{session_start}-{user_rng.bytes(3).hex()[:5]}-cv-emg-pose-train@2"
        held_out_user = num_subjects >= 2 and subject == num_subjects - 1
        gain = np.exp(0.2 * user_rng.standard_normal(NUM_CHANNELS))  # electrode placement
        file_number = 0
        for stage_index, (stage, sides) in enumerate(_STAGES):
            for side in sides:
                split, generalization = _split(num_subjects, held_out_user, stage_index, file_number)
                rng = np.random.default_rng([seed, 2, subject, file_number])
                start = float(session_start + 120 * stage_index)
                time = start + np.arange(num_samples) / FS
                latents = emg_model.smooth_latents(rng, num_samples, NUM_LATENTS, FS).astype(np.float64)
                activation = 0.05 + 0.95 * (latents @ emg_mix) * gain
                emg = emg_model.synthesize_emg(rng, activation, FS)
                angles = rest_pose + (latents - 0.5) @ angle_map
                failure_start = num_samples // 2
                angles[failure_start : failure_start + ik_failure_samples(num_samples)] = 0.0
                filename = f"{session}-recording-{stage_index + 1}_{side}"
                row = {
                    "user": user,
                    "session": session,
                    "stage": stage,
                    "side": side,
                    "moving_hand": "both",
                    "held_out_user": held_out_user,
                    "held_out_stage": generalization == "stage",
                    "split": split,
                    "generalization": generalization,
                    "start": start,
                    "end": float(time[-1]),
                    "filename": filename,
                }
                attrs = {k: row[k] for k in ("filename", "session", "stage", "user", "side", "split", "moving_hand",
                                             "generalization", "start", "end")}  # fmt: skip
                attrs.update(held_out_user=held_out_user, held_out_stage=row["held_out_stage"],
                             sample_rate=FS, num_channels=NUM_CHANNELS)  # fmt: skip
                path = out_dir / f"{filename}.hdf5"
                write_hdf5(path, time=time, joint_angles=angles, emg=emg, attrs=attrs)
                rows.append(row)
                written.append(path)
                file_number += 1
    write_metadata_csv(out_dir / "metadata.csv", rows)
    return sorted(written)


def _split(num_subjects: int, held_out_user: bool, stage_index: int, file_number: int) -> tuple[str, str]:
    """(split, generalization) of one file; see the module docstring."""
    if num_subjects == 1:
        return (("train", "none"), ("val", "stage"), ("test", "user_stage"))[file_number % 3]
    if held_out_user:
        return "test", "user"
    return ("train", "none") if stage_index == 0 else ("val", "stage")


def _date(unix_s: int) -> str:
    return np.datetime_as_string(np.datetime64(unix_s, "s"), unit="D")

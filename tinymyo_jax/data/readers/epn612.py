"""Reader for EMG-EPN612: one JSON file per user, one Recording per 5-s trial.

Layout (datasets.md §8.1): `EMG-EPN612 Dataset/{trainingJSON,testingJSON}/user<N>/user<N>.json`;
`root` may be the folder that contains `EMG-EPN612 Dataset` or that folder itself. Each file has
`generalInfo` (`samplingFrequencyInHertz` = 200), `userInfo`, and two sample groups
`trainingSamples` / `testingSamples`, dicts keyed `idx_<n>`; a sample holds `emg.ch1..ch8`
(lists of raw Myo values), `gestureName`, and for gestures other than noGesture a per-sample
0/1 `groundTruth` mask (plus `groundTruthIndex`).

Recording per trial: emg float32 [L, 8] in **raw Myo counts** (int8 range), fs from
`generalInfo`, labels int32 [L] = the trial's gesture id on every sample (`GESTURE_LABELS`,
TinyMyo's map: noGesture 0, waveIn 1, waveOut 2, pinch 3, open 4, fist 5).

Decisions:
- **Units**: TinyMyo divides by 128 (`MYO_FULL_SCALE`) before filtering. The Recording keeps the
  file's counts (the contract), and since the protocol z-scores each trial right after a linear
  filter, the division changes nothing downstream; a stage that wants [-1, 1] units divides by
  `MYO_FULL_SCALE` itself. `meta.extra["units"] = "myo_counts"` says so.
- **Split**: TinyMyo's assignment (§8.2) is computed per file and stored in
  `meta.extra["split"]` (see `tinymyo_splits`): trainingJSON users: trainingSamples -> "train",
  testingSamples -> "val"; testingJSON users: trainingSamples, grouped by gesture in trial order,
  first `TRAIN_TRIALS_PER_GESTURE` (10) -> "train", the rest -> "test"; testingJSON testingSamples
  -> None (TinyMyo does not use them). It only needs one user's file, so it is a field, not a
  corpus-level pass. Trial order = numeric order of the `idx_<n>` keys (TinyMyo iterates the
  JSON's own order, which is the same in files written idx_1, idx_2, ...).
- **Subjects**: trainingJSON and testingJSON each number their users user1..user306, and the
  two user1's are different people. Subject = N for trainingJSON and `USERS_PER_SOURCE` + N
  (307..612) for testingJSON, the "overall user" numbering of the corpus's 612 users.
  A user number outside 1..306 is refused, since the ids would collide.
- **Unlabelled trials**: testingJSON users' testingSamples carry no `gestureName`; those trials
  are skipped and counted in `meta.extra["unlabelled_trials_skipped"]` (same count on every
  Recording of that file). A missing or unknown gestureName anywhere else raises RawFileError
  (TinyMyo silently drops such trials).
- **Ground truth**: `meta.extra["ground_truth_interval"]` = (start, stop), 0-based, half-open,
  from the `groundTruth` mask (None when the mask is absent or all zero); the file's own
  `groundTruthIndex` is kept verbatim as `ground_truth_index` because its index base is not
  documented. A mask whose length differs from the EMG by a few samples (<= 1 %) is truncated
  with the EMG to the shorter (`truncated_samples`); more raises RawFileError.
- NaN/Inf in a trial's EMG follow the policy of every reader (`readers/checks.py`): up to 1 % of
  the trial's time steps are interpolated and counted per trial, more is refused.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.corpora.epn612 import NAME
from tinymyo_jax.data.readers.base import RawFileError, check_dataset, relative_file
from tinymyo_jax.data.recording import Recording, RecordingMeta

DATASETS: tuple[str, ...] = (NAME,)

CORPUS_FOLDER = "EMG-EPN612 Dataset"
SOURCES: tuple[str, ...] = ("trainingJSON", "testingJSON")
SAMPLE_GROUPS: tuple[str, ...] = ("trainingSamples", "testingSamples")
GESTURE_LABELS: dict[str, int] = {"noGesture": 0, "waveIn": 1, "waveOut": 2, "pinch": 3, "open": 4, "fist": 5}
CHANNELS: tuple[str, ...] = tuple(f"ch{i}" for i in range(1, 9))
MYO_FULL_SCALE = 128.0  # raw Myo int8 counts / 128 -> [-1, 1), as TinyMyo scales them
USERS_PER_SOURCE = 306
TRAIN_TRIALS_PER_GESTURE = 10

_USER_DIR = re.compile(r"^user(\d+)$")
_TRIAL_KEY = re.compile(r"^idx_(\d+)$")


def corpus_dir(root: Path) -> Path:
    """The `EMG-EPN612 Dataset` folder, given it or the folder containing it."""
    root = Path(root)
    if (root / CORPUS_FOLDER).is_dir():
        return root / CORPUS_FOLDER
    if any((root / source).is_dir() for source in SOURCES):
        return root
    raise RawFileError(root, f"neither {CORPUS_FOLDER!r} nor trainingJSON/testingJSON found here")


def tinymyo_splits(source: str, group: str, gestures: Sequence[str]) -> list[str | None]:
    """TinyMyo's split of each trial of one sample group of one user (datasets.md §8.2).

    Args:
      source: "trainingJSON" or "testingJSON".
      group: "trainingSamples" or "testingSamples".
      gestures: gesture names of the group's trials, in trial order.

    Returns:
      one of "train" / "val" / "test" / None (unused by TinyMyo) per trial.
    """
    if source not in SOURCES or group not in SAMPLE_GROUPS:
        raise ValueError(f"unknown source/group {source!r}/{group!r}")
    if source == "trainingJSON":
        return ["train" if group == "trainingSamples" else "val"] * len(gestures)
    if group == "testingSamples":
        return [None] * len(gestures)
    seen: dict[str, int] = {}
    splits: list[str | None] = []
    for gesture in gestures:
        seen[gesture] = seen.get(gesture, 0) + 1
        splits.append("train" if seen[gesture] <= TRAIN_TRIALS_PER_GESTURE else "test")
    return splits


def list_files(root: Path, dataset: str) -> list[Path]:
    """`<source>/user<N>/user<N>.json` for every user folder, trainingJSON first, then by N.

    A user folder without its JSON file is listed anyway so that `read_file` reports it.
    """
    check_dataset(dataset, DATASETS, "EPN-612")
    base = corpus_dir(root)
    files: list[tuple[int, int, Path]] = []
    for source_index, source in enumerate(SOURCES):
        folder = base / source
        if not folder.is_dir():
            raise RawFileError(folder, f"missing; EMG-EPN612 has both {SOURCES[0]} and {SOURCES[1]}")
        for entry in folder.iterdir():
            match = _USER_DIR.match(entry.name)
            if match and entry.is_dir():
                files.append((source_index, int(match.group(1)), entry / f"{entry.name}.json"))
    return [path for _, _, path in sorted(files)]


def read_file(path: Path, root: Path, dataset: str) -> list[Recording]:
    """One user's JSON -> one Recording per labelled trial (trainingSamples, then testingSamples)."""
    check_dataset(dataset, DATASETS, "EPN-612")
    path, root = Path(path), Path(root)
    source, user_number = _source_and_user(path)
    if not path.is_file():
        raise RawFileError(path, "user folder has no JSON file of the same name")
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise RawFileError(path, f"cannot parse JSON ({exc}); the file is truncated or corrupt") from exc
    if not isinstance(document, dict):
        raise RawFileError(path, f"top level must be an object, got {type(document).__name__}")
    missing = [key for key in ("generalInfo", *SAMPLE_GROUPS) if key not in document]
    if missing:
        raise RawFileError(path, f"missing top-level key(s) {missing}")
    fs = _sampling_rate(path, document["generalInfo"])
    subject = user_number if source == "trainingJSON" else USERS_PER_SOURCE + user_number

    trials: list[tuple[str, str, int, dict[str, Any]]] = []  # (group, key, index, sample)
    skipped = 0
    for group in SAMPLE_GROUPS:
        samples = document[group]
        if not isinstance(samples, dict):
            raise RawFileError(path, f"{group} must be an object keyed idx_<n>")
        for index, key in sorted(_trial_index(path, group, k) for k in samples):
            sample = samples[key]
            if not isinstance(sample, dict):
                raise RawFileError(path, f"{group}/{key} must be an object")
            if sample.get("gestureName") not in GESTURE_LABELS:
                if source == "testingJSON" and group == "testingSamples":
                    skipped += 1  # the corpus's unlabelled evaluation trials
                    continue
                raise RawFileError(
                    path,
                    f"{group}/{key}: gestureName {sample.get('gestureName')!r} is not one of {sorted(GESTURE_LABELS)}",
                )
            trials.append((group, key, index, sample))

    splits: dict[tuple[str, str], str | None] = {}
    for group in SAMPLE_GROUPS:
        in_group = [t for t in trials if t[0] == group]
        for trial, split in zip(in_group, tinymyo_splits(source, group, [t[3]["gestureName"] for t in in_group])):
            splits[(group, trial[1])] = split

    shown = relative_file(path, root)
    recordings = []
    for group, key, index, sample in trials:
        where = f"{group}/{key}"
        gesture = sample["gestureName"]
        extra: dict[str, Any] = {
            "source": source,
            "sample_group": group,
            "trial": key,
            "trial_index": index,
            "gesture": gesture,
            "split": splits[(group, key)],
            "units": "myo_counts",
            "unlabelled_trials_skipped": skipped,
            "ground_truth_index": sample.get("groundTruthIndex"),
        }
        emg = checks.repair_nonfinite(path, "emg", _trial_emg(path, where, sample), extra, where=where)
        mask = _ground_truth_mask(path, where, sample)
        if mask is not None:
            aligned = checks.align_lengths(path, {"emg": emg, "groundTruth": mask}, extra, where=where)
            emg, mask = aligned["emg"], aligned["groundTruth"]
        extra["dead_channels"] = checks.dead_channels(emg)
        extra["ground_truth_interval"] = _ground_truth_interval(mask)
        meta = RecordingMeta(dataset=NAME, subject=subject, session=None, file=shown, extra=extra)
        labels = np.full(emg.shape[0], GESTURE_LABELS[gesture], dtype=np.int32)
        recordings.append(Recording(emg=emg, fs=fs, meta=meta, labels=labels))
    return recordings


# --------------------------------------------------------------------------------------------
# Internals.
# --------------------------------------------------------------------------------------------


def _source_and_user(path: Path) -> tuple[str, int]:
    source = path.parent.parent.name
    match = _USER_DIR.match(path.parent.name)
    if source not in SOURCES or match is None or path.name != f"{path.parent.name}.json":
        raise RawFileError(path, "expected <trainingJSON|testingJSON>/user<N>/user<N>.json")
    number = int(match.group(1))
    if not 1 <= number <= USERS_PER_SOURCE:
        raise RawFileError(
            path, f"user number {number} is outside 1..{USERS_PER_SOURCE}; subject ids of the two sources would collide"
        )
    return source, number


def _trial_index(path: Path, group: str, key: str) -> tuple[int, str]:
    match = _TRIAL_KEY.match(key)
    if match is None:
        raise RawFileError(path, f"{group} has key {key!r}; expected idx_<n>")
    return int(match.group(1)), key


def _sampling_rate(path: Path, general_info: Any) -> float:
    if not isinstance(general_info, dict) or "samplingFrequencyInHertz" not in general_info:
        raise RawFileError(path, "generalInfo.samplingFrequencyInHertz is missing")
    value = general_info["samplingFrequencyInHertz"]
    if isinstance(value, list) and len(value) == 1:  # MATLAB's jsonencode sometimes wraps scalars
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise RawFileError(path, f"generalInfo.samplingFrequencyInHertz is {value!r}; expected a rate > 0 Hz")
    return float(value)


def _trial_emg(path: Path, where: str, sample: dict[str, Any]) -> np.ndarray:
    """float32 [L, 8] from `sample["emg"]["ch1".."ch8"]`; RawFileError on any inconsistency."""
    emg = sample.get("emg")
    if not isinstance(emg, dict):
        raise RawFileError(path, f"{where}: no 'emg' object")
    missing = [ch for ch in CHANNELS if ch not in emg]
    if missing:
        raise RawFileError(path, f"{where}: emg lacks channel(s) {missing}")
    columns = []
    for ch in CHANNELS:
        try:
            column = np.asarray(emg[ch], dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise RawFileError(path, f"{where}: emg.{ch} is not a list of numbers ({exc})") from exc
        if column.ndim != 1:
            raise RawFileError(path, f"{where}: emg.{ch} must be a flat list, got shape {column.shape}")
        columns.append(column)
    lengths = {len(c) for c in columns}
    if len(lengths) != 1:
        raise RawFileError(path, f"{where}: channels have different lengths {[len(c) for c in columns]}")
    if 0 in lengths:
        raise RawFileError(path, f"{where}: emg channels are empty")
    return np.stack(columns, axis=1)


def _ground_truth_mask(path: Path, where: str, sample: dict[str, Any]) -> np.ndarray | None:
    """The trial's 0/1 `groundTruth` as float64 [L'] (None when absent); L' may differ from L."""
    if "groundTruth" not in sample:
        return None
    try:
        mask = np.asarray(sample["groundTruth"], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise RawFileError(path, f"{where}: groundTruth is not a list of 0/1 ({exc})") from exc
    if mask.ndim != 1:
        raise RawFileError(path, f"{where}: groundTruth must be a flat list, got shape {mask.shape}")
    if not np.all((mask == 0) | (mask == 1)):
        raise RawFileError(path, f"{where}: groundTruth must hold only 0 and 1")
    return mask


def _ground_truth_interval(mask: np.ndarray | None) -> tuple[int, int] | None:
    """(start, stop), 0-based half-open, of the mask's ones; None without a mask or ones."""
    if mask is None:
        return None
    ones = np.flatnonzero(mask)
    return (int(ones[0]), int(ones[-1]) + 1) if ones.size else None

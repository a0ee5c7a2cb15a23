"""Reader for the Côté-Allard et al. Myo Armband Dataset (8 channels, 200 Hz, 40 participants).

Layout (the authors' repository, ../shared/real/README.md):
`<PreTrainingDataset|EvaluationDataset>/<Female|Male><N>/<round>/classe_<i>.dat`, rounds
`training0` (both datasets), `Test0` and `Test1` (EvaluationDataset). Each file: raw
little-endian int16, 8 interleaved Myo channels (`np.fromfile(f, "<i2").reshape(-1, 8)`),
~5 s of one gesture: label = i mod 7, cycle (repetition of the 7 gestures) = i div 7.

One Recording per file: emg float32 [T, 8] in Myo counts (8-bit levels), fs 200 Hz (the Myo's
EMG rate; the files carry no time column), labels int32 [T] = i mod 7 on every sample.
`meta.extra` carries `dataset_part`, `participant`, `round` and `cycle` (what the transfer
protocols select on; the window records reach them through `file_index` and prep_report.json).

Participant ids (the records' `subject`), one number per person of the corpus:
PreTrainingDataset Female<N> -> N, Male<N> -> 10 + N; EvaluationDataset Female<N> -> 100 + N,
Male<N> -> 110 + N (`subject_id`, `participant_name`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.readers.base import RawFileError, check_dataset, relative_file
from tinymyo_jax.data.recording import Recording, RecordingMeta

NAME = "myo_armband"
DATASETS: tuple[str, ...] = (NAME,)
FS_HZ = 200.0
NUM_CHANNELS = 8
NUM_GESTURES = 7
PARTS = ("PreTrainingDataset", "EvaluationDataset")
ROUNDS = ("training0", "Test0", "Test1")
# id = base[part][sex] + N (module docstring)
_BASE = {("PreTrainingDataset", "Female"): 0, ("PreTrainingDataset", "Male"): 10,
         ("EvaluationDataset", "Female"): 100, ("EvaluationDataset", "Male"): 110}  # fmt: skip
_PARTICIPANT = re.compile(r"^(Female|Male)(\d+)$")
_FILE = re.compile(r"^classe_(\d+)\.dat$")


def subject_id(part: str, participant: str) -> int:
    """The records' subject id of a participant folder (module docstring)."""
    match = _PARTICIPANT.match(participant)
    if part not in PARTS or match is None:
        raise ValueError(f"not a participant of the corpus: {part}/{participant}")
    return _BASE[(part, match.group(1))] + int(match.group(2))


def participant_name(subject: int) -> str:
    """Inverse of `subject_id`: e.g. 113 -> "EvaluationDataset/Male3"."""
    for (part, sex), base in sorted(_BASE.items(), key=lambda item: -item[1]):
        if subject >= base:
            return f"{part}/{sex}{subject - base}"
    raise ValueError(f"no participant has id {subject}")


def describe(path: Path | str) -> dict[str, object]:
    """What a file's place in the layout says: part, participant, subject id, round, file number,
    label and cycle. Raises ValueError for a path outside the layout."""
    path = Path(path)
    match = _FILE.match(path.name)
    parts = path.parts
    if match is None or len(parts) < 4 or parts[-2] not in ROUNDS or parts[-4] not in PARTS:
        raise ValueError(f"{path}: expected <PreTrainingDataset|EvaluationDataset>/<participant>/<round>/classe_<i>.dat")
    number = int(match.group(1))
    return {
        "dataset_part": parts[-4], "participant": parts[-3], "subject": subject_id(parts[-4], parts[-3]),
        "round": parts[-2], "file_number": number, "label": number % NUM_GESTURES, "cycle": number // NUM_GESTURES,
    }  # fmt: skip


def corpus_dir(root: Path) -> Path:
    """The folder holding PreTrainingDataset/ and/or EvaluationDataset/."""
    root = Path(root)
    if any((root / part).is_dir() for part in PARTS):
        return root
    raise RawFileError(root, f"neither {PARTS[0]}/ nor {PARTS[1]}/ found here")


def list_files(root: Path, dataset: str) -> list[Path]:
    """Every `<part>/<participant>/<round>/classe_<i>.dat`, ordered by part (pre-training first),
    participant id, round (training0, Test0, Test1) and file number."""
    check_dataset(dataset, DATASETS, "Myo armband")
    base = corpus_dir(root)
    found = []
    for part in PARTS:
        for folder in (base / part).glob("*/*"):
            if not (folder.is_dir() and folder.name in ROUNDS and _PARTICIPANT.match(folder.parent.name)):
                continue
            for file in folder.iterdir():
                match = _FILE.match(file.name)
                if match and file.is_file():
                    key = (PARTS.index(part), subject_id(part, folder.parent.name), ROUNDS.index(folder.name), int(match.group(1)))
                    found.append((key, file))
    return [file for _, file in sorted(found)]


def read_signal(path: Path | str) -> np.ndarray:
    """int16 [T, 8] of one file; RawFileError when its size is not whole 8-channel frames."""
    try:
        raw = np.fromfile(path, dtype="<i2")
    except OSError as exc:
        raise RawFileError(path, f"cannot read ({exc})") from exc
    if raw.size == 0:
        raise RawFileError(path, "empty file")
    if raw.size % NUM_CHANNELS:
        raise RawFileError(path, f"{raw.size} int16 values are not whole frames of {NUM_CHANNELS} channels (truncated?)")
    return raw.reshape(-1, NUM_CHANNELS)


def read_file(path: Path, root: Path, dataset: str) -> list[Recording]:
    """One `classe_<i>.dat` -> [Recording] with emg [T, 8] (Myo counts), fs 200 Hz, labels i mod 7."""
    check_dataset(dataset, DATASETS, "Myo armband")
    path, root = Path(path), Path(root)
    try:
        where = describe(path)
    except ValueError as exc:
        raise RawFileError(path, str(exc)) from exc
    emg = read_signal(path).astype(np.float32)
    extra = {**where, "round_dir": str(path.parent.resolve()), "dead_channels": checks.dead_channels(emg), "fs_source": "corpus (Myo armband EMG, 200 Hz)"}
    meta = RecordingMeta(dataset=NAME, subject=int(where["subject"]), session=ROUNDS.index(str(where["round"])),
                         file=relative_file(path, root), extra=extra)  # fmt: skip
    labels = np.full(emg.shape[0], int(where["label"]), dtype=np.int32)
    return [Recording(emg=emg, fs=FS_HZ, meta=meta, labels=labels)]

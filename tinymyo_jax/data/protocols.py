"""TinyMyo's preparation protocol per corpus: which split a window goes to, how it is cut, labelled.

A `CorpusProtocol` turns one reader Recording into windows (`cut`) and decides splits. Every
signal step is `tinymyo_jax.data.signal`. This module holds what protocols share (the dataclass,
rate matching, held-out subjects, the pretraining cut); each corpus's own choices (its cut, its
file -> split rule, its constants) are in its module `tinymyo_jax/data/corpora/<name>.py`:

| corpus      | task           | fs (Hz)  | band (Hz) | windows (W / stride)        | label / target             | split by                      |
|-------------|----------------|----------|-----------|-----------------------------|----------------------------|-------------------------------|
| ninapro_db5 | 52 gestures    | 200      | 20-90     | 200 / 100, tail zero-padded | restimulus at first sample | repetition 1,2,5 / 4,6 / 3    |
| ninapro_db6 | pretraining    | 2000     | 20-450    | 1000 / 500                  | -                          | subject (held out)            |
| ninapro_db7 | pretraining    | 2000     | 20-450    | 1000 / 500                  | -                          | subject (held out)            |
| ninapro_db8 | 5-DoA regress. | 2000     | 20-450    | 1000 / 500, 200 / 100       | DoA [W, 5] of the window   | acquisition A1 / A2 / A3      |
| emg2pose    | pretraining    | 2000     | 20-450    | 1000 / 500                  | -                          | subject (held out)            |
| epn612      | 6 gestures     | 200      | 20-90     | 1000, one per trial         | gestureName                | EPN's own (datasets.md §8.2)  |
| uci_emg     | 6 gestures     | file's   | 20-90     | 1000 / 500 inside class runs| class - 1 (majority)       | subject 1-24 / 25-30 / 31-36  |
|             |                | w200: 200|           | 200 / 100 inside class runs |                            |                               |

All: 50 Hz notch (Q 30), per-channel z-score over the recording (the trial for EPN-612), both
after the zero-phase band-pass, exactly `signal.preprocess`. Every decision on a conflict between
sources (datasets.md §12) is stated in the corpus module (`decisions`, with the common ones in
`decisions.py`) and copied into the builders' descriptions and docs/data.md.

Splits use TFDS names: "train", "validation", "test".
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np

from tinymyo_jax.data import signal
from tinymyo_jax.data.recording import Recording

SPLITS: tuple[str, ...] = ("train", "validation", "test")
PRETRAIN_SPLITS: tuple[str, ...] = ("train", "validation")
# Pretraining corpora: this fraction of subjects (at least one, when there are two or more) is held
# out as the validation split.
HELD_OUT_FRACTION = 0.1

Task = Literal["pretraining", "classification", "regression"]


@dataclasses.dataclass(frozen=True)
class WindowConfig:
    """A window length and stride in samples at the windows' rate; `name` is the TFDS config.

    rate_hz: the rate the config resamples its windows to (the Myo corpora's w200 / w1000);
    None: the protocol's `fs` (`window_rate`).
    """

    name: str
    window: int
    stride: int
    rate_hz: float | None = None


def window_rate(protocol: CorpusProtocol, config: WindowConfig) -> float | None:
    """The sampling rate (Hz) of the windows `config` cuts under `protocol`; None when it is each
    file's own (a corpus without one fixed rate)."""
    return config.rate_hz if config.rate_hz is not None else protocol.fs


# The pretraining window (and several downstream corpora's): 1000 samples, stride 500.
W1000 = WindowConfig("w1000", 1000, 500)


@dataclasses.dataclass
class Windows:
    """The windows of one Recording, as the preprocessed signal and where each window starts.

    Windows are not materialised here: N overlapping windows of a long recording take
    W / stride times its memory, so `window_record.records` cuts them in small chunks with
    `signal.extract_windows` (zero-padded past the end).

    signal:  float32 [T, C], the recording's real channels, preprocessed.
    starts:  int64 [N] first sample of each window.
    length:  W, samples per window.
    splits:  [N] split name per window.
    labels:  int64 [N] class index, or None.
    target_signal: float32 [T, K] per-sample targets (a window's target is its [W, K] slice), or None.
    dropped: windows (or trials) not kept, by reason.
    """

    signal: np.ndarray
    starts: np.ndarray
    length: int
    splits: np.ndarray
    labels: np.ndarray | None = None
    target_signal: np.ndarray | None = None
    dropped: dict[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CorpusProtocol:
    """One corpus's preparation protocol (see the module table); declared in its corpus module."""

    name: str
    task: Task
    fs: float | None  # the rate windows are cut at; None: the file's own rate (UCI)
    # None: no band-pass, the device's stream as recorded (myo_armband: measured in docs/data.md)
    band: tuple[float, float] | None
    # Real channels per window (padded to 16 in the record); None: the files decide (users'
    # recordings), at most 16. The prepared dataset's metadata holds the count it got.
    channels: int | None
    configs: tuple[WindowConfig, ...]  # first = default
    splits: tuple[str, ...]
    # (protocol, recording, config, the file's split or None) -> Windows.
    cut: Callable[["CorpusProtocol", Recording, WindowConfig, str | None], Windows]
    # (files, corpus root) -> (assigned, skipped): the split of every raw file, decided from names
    # (and emg2pose's metadata.csv) before reading; see `assign_files`.
    assign: Callable[[Sequence[Path], Path], tuple[dict[Path, str | None], dict[Path, str]]]
    class_names: tuple[str, ...] | None = None
    target_names: tuple[str, ...] | None = None
    notch_hz: float | None = 50.0
    # Hooks of corpora whose options live in their WindowConfig (`generic/NAME`, corpora/generic.py):
    # read(path, root) -> recordings, instead of the reader module's read_file;
    # bind(protocol, config) -> the protocol of one config (with read / assign set).
    read: Callable[[Path, Path], list[Recording]] | None = None
    bind: Callable[["CorpusProtocol", WindowConfig], "CorpusProtocol"] | None = None

    def config(self, name: str | None) -> WindowConfig:
        if name is None:
            return self.configs[0]
        for config in self.configs:
            if config.name == name:
                return config
        raise KeyError(f"{self.name} has configs {[c.name for c in self.configs]}, not {name!r}")

    def windows(self, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
        """The windows of one Recording; `split` is the file's split (None: decided per window)."""
        return self.cut(self, recording, config, split)

    def preprocess(self, recording: Recording) -> tuple[np.ndarray, Recording]:
        """(filtered + z-scored float32 [T, C] at the protocol's rate, the rate-matched Recording)."""
        recording = at_rate(recording, self.fs)
        return signal.preprocess(recording.emg, recording.fs, band=self.band, notch_hz=self.notch_hz), recording


# ---------------------------------------------------------------------------------------------
# Shared steps


def at_rate(recording: Recording, fs: float | None) -> Recording:
    """The recording at `fs` Hz (polyphase resampling of emg; per-sample labels, repetitions and
    targets taken at the nearest earlier original sample). Unchanged when already at `fs`."""
    if fs is None or abs(recording.fs - fs) <= 1e-6 * fs:
        return recording
    emg, achieved = signal.resample(recording.emg, recording.fs, fs)
    source = np.minimum((np.arange(emg.shape[0]) * recording.fs / achieved).astype(np.int64), recording.num_samples - 1)

    def pick(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else values[source]

    return dataclasses.replace(
        recording, emg=emg, fs=achieved, labels=pick(recording.labels),
        repetition=pick(recording.repetition), targets=pick(recording.targets),
    )  # fmt: skip


def held_out_subjects(dataset: str, subjects: Sequence[int], fraction: float = HELD_OUT_FRACTION) -> set[int]:
    """The subjects of a pretraining corpus whose windows form the validation split.

    round(fraction x number of subjects), at least 1 when there are 2 or more subjects (so tiny
    corpora have a validation split too) and never all of them; chosen as the subjects with the
    smallest SHA-256 of "<dataset>/<subject>", so the choice depends on nothing but the subject
    ids present (not on file order, machine or Python's salted hash) and is not tied to the id
    order (DB7's last ids are its two amputees). Full corpora: DB6 holds out subject 4, DB7
    subjects 9 and 12, emg2pose 19 of its 193 users.
    """
    unique = sorted(set(int(s) for s in subjects))
    if len(unique) < 2:
        return set()
    count = min(len(unique) - 1, max(1, round(fraction * len(unique))))
    return set(hash_order(dataset, unique)[:count])


def hash_order(dataset: str, keys: Sequence[Any]) -> list[Any]:
    """`keys` ordered by the SHA-256 of "<dataset>/<key>": the order held-out subjects (or
    recordings) are taken in, a function of the keys alone."""
    return sorted(keys, key=lambda k: hashlib.sha256(f"{dataset}/{k}".encode()).hexdigest())


# ---------------------------------------------------------------------------------------------
# Shared by corpora: the pretraining cut and file -> split rules


def cut_pretraining(protocol: CorpusProtocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """DB6, DB7, emg2pose: every window that fits, all to the file's (subject's) split.

    Rest windows are kept (labels play no part in pretraining): TinyMyo drops windows whose
    centre repetition is 0 only as a side effect of splitting by repetition (§12.8).
    """
    assert split is not None
    emg, _ = protocol.preprocess(recording)
    starts = signal.window_starts(emg.shape[0], config.window, config.stride)
    return Windows(emg, starts, config.window, splits=np.full(starts.size, split, dtype=object))


def every_split(files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Assign rule of corpora whose files each hold windows of several splits (DB5, EPN-612): every
    file is read by every split's pass, which keeps the windows of its split."""
    return {Path(f): None for f in files}, {}


def assign_held_out_subjects(
    dataset: str, files: Sequence[Path], subject_of: Callable[[Path], int | None], unknown: str
) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Assign rule of pretraining corpora: the files of `held_out_subjects` to validation, the
    others to train. `subject_of(file)` reads the subject (None: skipped, with reason `unknown`)."""
    subjects: dict[Path, int] = {}
    skipped: dict[Path, str] = {}
    for file in map(Path, files):
        subject = subject_of(file)
        if subject is None:
            skipped[file] = unknown
        else:
            subjects[file] = subject
    held_out = held_out_subjects(dataset, list(subjects.values()))
    return {file: "validation" if subject in held_out else "train" for file, subject in subjects.items()}, skipped


def assign_by(
    files: Sequence[Path], split_of: Callable[[Path], str | tuple[None, str]]
) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Assign rule of corpora whose file names give the split: `split_of(file)` is the split, or
    (None, why the file belongs to no split)."""
    assigned: dict[Path, str | None] = {}
    skipped: dict[Path, str] = {}
    for file in map(Path, files):
        split = split_of(file)
        if isinstance(split, tuple):
            skipped[file] = split[1]
        else:
            assigned[file] = split
    return assigned, skipped


def assign_files(protocol: CorpusProtocol, files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Split of every raw file, decided before reading (the corpus's `assign` rule).

    Returns:
      (assigned, skipped): assigned maps a file to its split, or to None when its windows go to
      several splits (read by every split's pass); skipped maps a file to why it belongs to no
      split (it is reported, never dropped silently).
    """
    return protocol.assign(files, root)

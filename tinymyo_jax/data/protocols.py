"""TinyMyo's preparation protocol per corpus: which split a window goes to, how it is cut, labelled.

A `Protocol` turns one reader Recording into windows (`cut`) and decides splits. Every signal
step is `tinymyo_jax.data.signal`; this module only holds the per-corpus choices:

| corpus      | task           | fs (Hz)  | band (Hz) | windows (W / stride)        | label / target             | split by                      |
|-------------|----------------|----------|-----------|-----------------------------|----------------------------|-------------------------------|
| ninapro_db5 | 52 gestures    | 200      | 20-90     | 200 / 100, tail zero-padded | restimulus at first sample | repetition 1,2,5 / 4,6 / 3    |
| ninapro_db6 | pretraining    | 2000     | 20-450    | 1000 / 500                  | -                          | subject (held out)            |
| ninapro_db7 | pretraining    | 2000     | 20-450    | 1000 / 500                  | -                          | subject (held out)            |
| ninapro_db8 | 5-DoA regress. | 2000     | 20-450    | 1000 / 500, 200 / 100       | DoA [W, 5] of the window   | acquisition A1 / A2 / A3      |
| emg2pose    | pretraining    | 2000     | 20-450    | 1000 / 500                  | -                          | subject (held out)            |
| epn612      | 6 gestures     | 200      | 20-90     | 1000, one per trial         | gestureName                | EPN's own (datasets.md §8.2)  |
| uci_emg     | 6 gestures     | file's   | 20-90     | 1000 / 500 inside class runs| class - 1 (majority)       | subject 1-24 / 25-30 / 31-36  |

All: 50 Hz notch (Q 30), per-channel z-score over the recording (the trial for EPN-612), both
after the zero-phase band-pass, exactly `signal.preprocess`. Every decision on a conflict between
sources (datasets.md §12) is stated in `decisions.py` and copied into the builders' descriptions
and docs/data.md.

Splits use TFDS names: "train", "validation", "test".
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from tinymyo_jax.data import signal
from tinymyo_jax.data.decisions import COMMON, DECISIONS
from tinymyo_jax.data.recording import Recording

# Every corpus a window record can come from; the record's `dataset` field is the index here.
# "generic": users' own recordings (`tinymyo prep generic`, data/generic.py).
CORPORA: tuple[str, ...] = (
    "ninapro_db5", "ninapro_db6", "ninapro_db7", "ninapro_db8", "emg2pose", "epn612", "uci_emg", "generic",
)  # fmt: skip
SPLITS: tuple[str, ...] = ("train", "validation", "test")
PRETRAIN_SPLITS: tuple[str, ...] = ("train", "validation")
# Pretraining corpora: this fraction of subjects (at least one, when there are two or more) is held
# out as the validation split.
HELD_OUT_FRACTION = 0.1

Task = Literal["pretraining", "classification", "regression"]


@dataclasses.dataclass(frozen=True)
class WindowConfig:
    """A window length and stride in samples at the protocol's rate; `name` is the TFDS config."""

    name: str
    window: int
    stride: int


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
class Protocol:
    """One corpus's preparation protocol (see the module table)."""

    name: str
    task: Task
    fs: float | None  # the rate windows are cut at; None: the file's own rate (UCI)
    band: tuple[float, float]
    channels: int  # real channels per window (padded to 16 in the record)
    configs: tuple[WindowConfig, ...]  # first = default
    splits: tuple[str, ...]
    # (protocol, recording, config, the file's split or None) -> Windows; one per corpus below.
    cut: Callable[["Protocol", Recording, WindowConfig, str | None], Windows]
    class_names: tuple[str, ...] | None = None
    target_names: tuple[str, ...] | None = None
    notch_hz: float | None = 50.0
    # True: every window of a file goes to one split, known from its name (or emg2pose's
    # metadata.csv) before reading; False: windows of one file go to several splits (DB5, EPN-612).
    files_decide_split: bool = True
    # Hooks of corpora whose options live in their WindowConfig (`generic/NAME`, data/generic.py):
    # read(path, root) -> recordings, instead of the reader module's read_file;
    # assign(files, root) -> (assigned, skipped), instead of `assign_files`'s rules;
    # bind(protocol, config) -> the protocol of one config (with read / assign set).
    read: Callable[[Path, Path], list[Recording]] | None = None
    assign: Callable[[Sequence[Path], Path], tuple[dict[Path, str | None], dict[Path, str]]] | None = None
    bind: Callable[["Protocol", WindowConfig], "Protocol"] | None = None

    @property
    def dataset_id(self) -> int:
        return CORPORA.index(self.name)

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

    @property
    def decisions(self) -> str:
        """This corpus's protocol decisions, then the ones common to all, as Markdown bullets."""
        return DECISIONS[self.name] + COMMON

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
# Per-corpus cutting


def _cut_pretraining(protocol: Protocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """DB6, DB7, emg2pose: every window that fits, all to the file's (subject's) split.

    Rest windows are kept (labels play no part in pretraining): TinyMyo drops windows whose
    centre repetition is 0 only as a side effect of splitting by repetition (§12.8).
    """
    assert split is not None
    emg, _ = protocol.preprocess(recording)
    starts = signal.window_starts(emg.shape[0], config.window, config.stride)
    return Windows(emg, starts, config.window, splits=np.full(starts.size, split, dtype=object))


# NinaPro DB5 repetition -> split (BF-PR4 db5.py); repetition 0 (rest) and others are dropped.
DB5_REPETITION_SPLITS: Mapping[int, str] = {1: "train", 2: "train", 5: "train", 4: "validation", 6: "validation", 3: "test"}
DB5_CLASSES = 52


def _cut_db5(protocol: Protocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """Every start < T (tail windows zero-padded, as TinyMyo); label and repetition at the first
    sample; split by that repetition; label = global movement id - 1 (0..51)."""
    if recording.labels is None or recording.repetition is None:
        raise ValueError(f"{recording.meta.file}: DB5 recordings carry labels and repetitions")
    emg, recording = protocol.preprocess(recording)
    starts = signal.window_starts(emg.shape[0], config.window, config.stride, pad_tail=True)
    movement = signal.labels_at(recording.labels, starts, config.window, "first").astype(np.int64)
    repetition = signal.labels_at(recording.repetition, starts, config.window, "first")
    splits = np.array([DB5_REPETITION_SPLITS.get(int(r)) for r in repetition], dtype=object)
    in_split = splits != None  # noqa: E711  (elementwise over an object array)
    keep = in_split & (movement >= 1) & (movement <= DB5_CLASSES)
    dropped = {
        "rest_or_unlisted_repetition": int(np.sum(~in_split)),
        "movement_outside_1_52": int(np.sum(in_split & ~keep)),
    }
    starts = starts[keep]
    return Windows(
        emg,
        starts,
        config.window,
        splits=splits[keep],
        labels=movement[keep] - 1,
        dropped={k: v for k, v in dropped.items() if v},
    )


def _cut_db8(protocol: Protocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """Windows that fit; target = the window's degrees of actuation [W, 5] (degrees)."""
    if recording.targets is None:
        raise ValueError(f"{recording.meta.file}: DB8 recordings carry DoA targets")
    assert split is not None
    emg, recording = protocol.preprocess(recording)
    starts = signal.window_starts(emg.shape[0], config.window, config.stride)
    return Windows(
        emg,
        starts,
        config.window,
        splits=np.full(starts.size, split, dtype=object),
        target_signal=recording.targets.astype(np.float32),
    )


EPN_SPLITS: Mapping[str, str] = {"train": "train", "val": "validation", "test": "test"}


def _cut_epn(protocol: Protocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """One window per trial: the trial preprocessed on its own (z-score per trial), then cut to
    W samples or zero-padded at the end; split from the reader's TinyMyo assignment."""
    trial_split = EPN_SPLITS.get(recording.meta.extra.get("split"))  # type: ignore[arg-type]
    if trial_split is None:
        return Windows(recording.emg, np.zeros(0, np.int64), config.window, splits=np.zeros(0, object),
                       labels=np.zeros(0, np.int64), dropped={"trial_unused_by_protocol": 1})  # fmt: skip
    if recording.labels is None:
        raise ValueError(f"{recording.meta.file}: EPN-612 trials carry a gesture label")
    emg, recording = protocol.preprocess(recording)
    starts = np.zeros(1, np.int64)
    return Windows(
        emg,
        starts,
        config.window,
        splits=np.array([trial_split], dtype=object),
        labels=recording.labels[:1].astype(np.int64),
    )


UCI_CLASSES = 6  # classes 1..6 -> labels 0..5
UCI_SUBJECT_SPLITS: tuple[tuple[range, str], ...] = (
    (range(1, 25), "train"), (range(25, 31), "validation"), (range(31, 37), "test"),
)  # fmt: skip


def _cut_uci(protocol: Protocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """Windows inside runs of one class (1..6) of the continuous, filtered recording; label =
    majority class in the window (the run's class) - 1. Class 0 (unmarked) and class 7 (extended
    palm, performed by few subjects) runs give no windows."""
    if recording.labels is None:
        raise ValueError(f"{recording.meta.file}: UCI recordings carry the class column")
    assert split is not None
    emg, recording = protocol.preprocess(recording)
    classes = recording.labels
    edges = np.flatnonzero(np.diff(classes)) + 1
    run_starts = np.concatenate([[0], edges])
    run_ends = np.concatenate([edges, [classes.size]])
    starts: list[np.ndarray] = []
    dropped = {"class_7_windows": 0}
    for begin, end in zip(run_starts, run_ends):
        run_class = int(classes[begin])
        inside = signal.window_starts(int(end - begin), config.window, config.stride) + begin
        if run_class == 7:
            dropped["class_7_windows"] += int(inside.size)
        elif 1 <= run_class <= UCI_CLASSES:
            starts.append(inside)
    kept = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    labels = signal.labels_at(classes, kept, config.window, "majority").astype(np.int64) - 1
    return Windows(
        emg,
        kept,
        config.window,
        splits=np.full(kept.size, split, dtype=object),
        labels=labels,
        dropped={k: v for k, v in dropped.items() if v},
    )


# ---------------------------------------------------------------------------------------------
# File -> split, decided from names (and emg2pose's metadata.csv) before any file is read


_NINAPRO_SUBJECT = re.compile(r"^S(\d+)_", re.I)
_NINAPRO_ACQUISITION = re.compile(r"_A(\d+)\.mat$", re.I)
DB8_ACQUISITION_SPLITS: Mapping[int, str] = {1: "train", 2: "validation", 3: "test"}


def file_subject(protocol_name: str, path: Path, users: Mapping[str, str] | None = None) -> int | None:
    """The subject a raw file belongs to, from its name, or None.

    users: emg2pose only, filename -> user from metadata.csv (`emg2pose_users`).
    """
    if protocol_name.startswith("ninapro"):
        match = _NINAPRO_SUBJECT.match(path.name)
        return int(match.group(1)) if match else None
    if protocol_name == "uci_emg":
        return int(path.parent.name) if path.parent.name.isdigit() else None
    if protocol_name == "emg2pose":
        from tinymyo_jax.data.readers import emg2pose

        user = (users or {}).get(path.name.removesuffix(".hdf5"))
        return None if user is None else emg2pose.subject_id(user)
    return None


def emg2pose_users(root: Path) -> dict[str, str]:
    """filename -> user from `<root>/metadata.csv` ({} when it cannot be read: the reader then
    reports the problem file by file)."""
    import csv

    try:
        with open(Path(root) / "metadata.csv", newline="", encoding="utf-8") as handle:
            return {row["filename"].strip(): row["user"].strip() for row in csv.DictReader(handle)
                    if row.get("filename") and row.get("user")}  # fmt: skip
    except (OSError, KeyError, UnicodeDecodeError):
        return {}


def assign_files(protocol: Protocol, files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Split of every raw file, decided before reading.

    Returns:
      (assigned, skipped): assigned maps a file to its split, or to None when its windows go to
      several splits (read by every split's pass); skipped maps a file to why it belongs to no
      split (it is reported, never dropped silently).
    """
    if protocol.assign is not None:
        return protocol.assign(files, root)
    assigned: dict[Path, str | None] = {}
    skipped: dict[Path, str] = {}
    if not protocol.files_decide_split:
        return {Path(f): None for f in files}, skipped
    subjects: dict[Path, int] = {}
    users = emg2pose_users(root) if protocol.name == "emg2pose" else None  # parsed once: 25k rows
    for file in map(Path, files):
        subject = file_subject(protocol.name, file, users)
        if protocol.name == "ninapro_db8":
            match = _NINAPRO_ACQUISITION.search(file.name)
            split = DB8_ACQUISITION_SPLITS.get(int(match.group(1))) if match else None
            if split is None:
                skipped[file] = "acquisition is not A1, A2 or A3: DB8 splits by acquisition (A1 train, A2 validation, A3 test)"
            else:
                assigned[file] = split
        elif subject is None:
            reason = ("not listed in metadata.csv (or no user), so its subject is unknown"
                      if protocol.name == "emg2pose" else "the subject number cannot be read from the file name")  # fmt: skip
            skipped[file] = reason
        elif protocol.name == "uci_emg":
            split = next((s for subjects_, s in UCI_SUBJECT_SPLITS if subject in subjects_), None)
            if split is None:
                skipped[file] = f"subject {subject} is outside 1-36, the subjects UCI's split covers"
            else:
                assigned[file] = split
        else:
            subjects[file] = subject
    if subjects:  # pretraining: hold out whole subjects
        held_out = held_out_subjects(protocol.name, list(subjects.values()))
        for file, subject in subjects.items():
            assigned[file] = "validation" if subject in held_out else "train"
    return assigned, skipped


# ---------------------------------------------------------------------------------------------
# The protocols


_W1000 = WindowConfig("w1000", 1000, 500)
_PRETRAINING = dict(task="pretraining", fs=2000.0, band=(20.0, 450.0), configs=(_W1000,),
                    splits=PRETRAIN_SPLITS, cut=_cut_pretraining)  # fmt: skip

PROTOCOLS: dict[str, Protocol] = {
    "ninapro_db5": Protocol(
        name="ninapro_db5", task="classification", fs=200.0, band=(20.0, 90.0), channels=16,
        configs=(WindowConfig("w200", 200, 100),), splits=SPLITS, cut=_cut_db5,
        class_names=tuple(f"movement_{i}" for i in range(1, DB5_CLASSES + 1)), files_decide_split=False,
    ),
    "ninapro_db6": Protocol(name="ninapro_db6", channels=14, **_PRETRAINING),  # type: ignore[arg-type]
    "ninapro_db7": Protocol(name="ninapro_db7", channels=12, **_PRETRAINING),  # type: ignore[arg-type]
    "emg2pose": Protocol(name="emg2pose", channels=16, **_PRETRAINING),  # type: ignore[arg-type]
    "ninapro_db8": Protocol(
        name="ninapro_db8", task="regression", fs=2000.0, band=(20.0, 450.0), channels=16,
        configs=(_W1000, WindowConfig("w200", 200, 100)), splits=SPLITS, cut=_cut_db8,
        target_names=("doa_1", "doa_2", "doa_3", "doa_4", "doa_5"),
    ),
    "epn612": Protocol(
        name="epn612", task="classification", fs=200.0, band=(20.0, 90.0), channels=8,
        configs=(WindowConfig("w1000", 1000, 1000),), splits=SPLITS, cut=_cut_epn,
        class_names=("noGesture", "waveIn", "waveOut", "pinch", "open", "fist"), files_decide_split=False,
    ),
    "uci_emg": Protocol(
        name="uci_emg", task="classification", fs=None, band=(20.0, 90.0), channels=8,
        configs=(_W1000,), splits=SPLITS, cut=_cut_uci,
        class_names=("hand_at_rest", "fist", "wrist_flexion", "wrist_extension", "radial_deviation", "ulnar_deviation"),
    ),
}


def get(name: str) -> Protocol:
    """The protocol of a corpus by TFDS name ("generic": the base of users' corpora, to `bind`
    to a GenericConfig); UserError for an unknown name."""
    from tinymyo_jax.errors import UserError

    if name == "generic":
        from tinymyo_jax.data.generic import GENERIC

        return GENERIC
    if name not in PROTOCOLS:
        raise UserError(f"no preparation protocol for {name!r}; choose from {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name]


def resolve(name: str, config: str | WindowConfig | None) -> tuple[Protocol, WindowConfig]:
    """(protocol, window config) of a preparation: `config` is a config name of the corpus (None:
    its default), or a WindowConfig object, which is how a `generic/NAME` corpus's options reach
    worker processes (the protocol is then bound to it)."""
    protocol = get(name)
    if isinstance(config, WindowConfig):
        return (protocol.bind(protocol, config) if protocol.bind else protocol), config
    return protocol, protocol.config(config)

"""UCI EMG data for gestures (Myo, 8 ch, ~1 kHz): 6-gesture classification, split by subject."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from tinymyo_jax.data import signal
from tinymyo_jax.data.corpora import Corpus, Downstream
from tinymyo_jax.data.protocols import SPLITS, CorpusProtocol, W1000, WindowConfig, Windows, assign_by, at_rate
from tinymyo_jax.data.recording import Recording

NAME = "uci_emg"
CLASSES = 6  # classes 1..6 -> labels 0..5
SUBJECT_SPLITS: tuple[tuple[range, str], ...] = (
    (range(1, 25), "train"), (range(25, 31), "validation"), (range(31, 37), "test"),
)  # fmt: skip
# Window configs: "w1000" (default) 1000 rows of the file (~1 s at its 1-kHz time column);
# "w200" the same second at 200 Hz, the Myo's own update rate (the file holds each device value
# for ~5 rows), as `myo_armband/w200`: the windows an encoder pretrained on that corpus reads.
# Configs without a rate (w1000, and the 1000-row strides benchmarks/export_published.py cuts)
# keep the file's own.
W200 = WindowConfig("w200", 200, 100, rate_hz=200.0)


def cut(protocol: CorpusProtocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """Windows inside runs of one class (1..6) of the continuous, filtered recording; label =
    majority class in the window (the run's class) - 1. Class 0 (unmarked) and class 7 (extended
    palm, performed by few subjects) runs give no windows."""
    if recording.labels is None:
        raise ValueError(f"{recording.meta.file}: UCI recordings carry the class column")
    assert split is not None
    emg, recording = protocol.preprocess(at_rate(recording, config.rate_hz))
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
        elif 1 <= run_class <= CLASSES:
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


def _split(file: Path) -> str | tuple[None, str]:
    if not file.parent.name.isdigit():
        return None, "the subject number cannot be read from the file name"
    subject = int(file.parent.name)
    split = next((s for subjects, s in SUBJECT_SPLITS if subject in subjects), None)
    return split if split is not None else (None, f"subject {subject} is outside 1-36, the subjects UCI's split covers")


def assign(files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Split by subject (the file's folder): 1-24 train, 25-30 validation, 31-36 test."""
    return assign_by(files, _split)


DECISIONS = """\
- Sampling rate (§12.6): read from each file's time column (ms); the published files step by
  ~1 ms (~1 kHz), not the 200 Hz TinyMyo assumed. Windows are 1000 samples at that rate (so
  the same 1000 rows TinyMyo's windows held, ~1 s), stride 500, and the band-pass is 20-90 Hz
  at the true rate (the Myo's EMG band; TinyMyo's 20-90 Hz "at 200 Hz" acted at ~100-450 Hz).
- The whole continuous recording is filtered and z-scored; windows are cut inside runs of one
  class, so none straddles a class change. TinyMyo deleted class-0 rows first, splicing
  separate segments together before filtering; we do not.
- Classes (§12.7): 6, classes 1-6 -> labels 0-5 (TinyMyo's num_classes: 6). Class 7 (extended
  palm, done by few subjects) windows are dropped and counted in the report; class 0
  (unmarked) rows give no windows.
- Split by subject: 1-24 train, 25-30 validation, 31-36 test.
- Config w200: the recording resampled to 200 Hz (the Myo's update rate; polyphase, labels at
  the nearest earlier row) before the same band-pass and z-score, 200-sample windows, stride 100:
  the same seconds as w1000, at the rate of `myo_armband/w200`.
"""

INSTRUCTIONS = """\
Download the UCI "EMG data for gestures" archive
(https://archive.ics.uci.edu/static/public/481/emg+data+for+gestures.zip) and unzip it into the
manual dir, giving EMG_data_for_gestures-master/<NN>/<series>_raw_data_*.txt, NN = 01..36.
"""

CORPUS = Corpus(
    protocol=CorpusProtocol(
        name=NAME, task="classification", fs=None, band=(20.0, 90.0), channels=8,
        configs=(W1000, W200), splits=SPLITS, cut=cut, assign=assign,
        class_names=("hand_at_rest", "fist", "wrist_flexion", "wrist_extension", "radial_deviation", "ulnar_deviation"),
    ),
    dataset_id=6, reader="tinymyo_jax.data.readers.uci_emg", synth="tinymyo_jax.data.synth.uci",
    decisions=DECISIONS, homepage="https://archive.ics.uci.edu/dataset/481/emg+data+for+gestures",
    instructions=INSTRUCTIONS, benchmark=Downstream("w1000", "accuracy"),
    emg_bound=10.0,  # volts
)  # fmt: skip

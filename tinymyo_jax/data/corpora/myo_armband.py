"""Côté-Allard et al. Myo Armband Dataset (8 ch, 200 Hz, 7 gestures, 40 participants): the
pretraining participants and the transfer benchmark's evaluation participants (issue 20)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

import numpy as np

from tinymyo_jax.data import signal
from tinymyo_jax.data.corpora import Corpus
from tinymyo_jax.data.protocols import CorpusProtocol, WindowConfig, Windows, assign_by, held_out_subjects
from tinymyo_jax.data.readers.base import RawFileError
from tinymyo_jax.data.readers.myo_armband import describe, read_signal
from tinymyo_jax.data.recording import Recording

NAME = "myo_armband"
FS_HZ = 200.0
# Window configs: "w1000" (default) 1-s windows of the scaled signal resampled to 1 kHz (the
# 1000-sample windows of the 1-2 kHz corpora); "w200" the same seconds at the Myo's own 200 Hz
# (as DB5's w200). docs/data.md has the measurement that chose the default.
W200 = WindowConfig("w200", 200, 100, rate_hz=FS_HZ)
W1000 = WindowConfig("w1000", 1000, 500, rate_hz=1000.0)
# train / validation: the PreTrainingDataset participants (validation = held_out_subjects of
# them); evaluation: every EvaluationDataset participant, every round (the transfer protocols
# pick participants, rounds and cycles from it: evaluate/transfer.py).
SPLITS: tuple[str, ...] = ("train", "validation", "evaluation")
CLASS_NAMES = ("neutral", "radial_deviation", "wrist_flexion", "ulnar_deviation", "wrist_extension", "hand_close", "hand_open")
# No band-pass and no notch: the armband streams band-limited 8-bit EMG, and filtering it
# (20-90 Hz + 50 Hz notch, the 200-Hz corpora's chain) cost the classic pipeline and the
# pretrained encoder's probe accuracy for a new user (docs/data.md, myo_armband, the table).
BAND: tuple[float, float] | None = None
NOTCH_HZ: float | None = None
PRETRAINING_SUBJECTS = tuple(range(0, 22))  # Female0-9 -> 0-9, Male0-11 -> 10-21 (readers/myo_armband.py)


@functools.lru_cache(maxsize=8)
def round_scale(round_dir: str, band: tuple[float, float] | None, notch_hz: float | None) -> np.ndarray:
    """float64 [8]: per-channel std of the (filtered) signal pooled over every file of a round.

    The files are one gesture each (~5 s): z-scoring each on its own would erase what tells a
    fist from rest (every channel's RMS would be 1). A round is one continuous session of the
    armband on the arm, so its pooled std is the per-recording z-score of the other corpora.
    Files that cannot be read are left out of the pool (they are skipped, and reported, when
    their own turn comes).
    """
    pooled = []
    for file in sorted(Path(round_dir).glob("classe_*.dat")):
        try:
            raw = read_signal(file).astype(np.float64)
        except RawFileError:
            continue
        if raw.shape[0] >= 28:  # prepare.MIN_SAMPLES: the zero-phase filter's shortest input
            pooled.append(signal.filters(raw, FS_HZ, band=band, notch_hz=notch_hz))
    std = np.concatenate(pooled).std(axis=0, ddof=1)
    return np.where(std > 0, std, 1.0)


def cut(protocol: CorpusProtocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """The corpus's filters (none: BAND, NOTCH_HZ), divide by the round's per-channel std
    (`round_scale`), resample for w1000; windows that fit inside the file (one gesture), label
    i mod 7."""
    assert split is not None and recording.labels is not None
    x = signal.filters(recording.emg, recording.fs, band=protocol.band, notch_hz=protocol.notch_hz)
    round_dir = recording.meta.extra.get("round_dir")
    scale = round_scale(round_dir, protocol.band, protocol.notch_hz) if round_dir else x.std(axis=0, ddof=1)
    emg = (x / scale).astype(np.float32)
    fs = config.rate_hz if config.rate_hz is not None else recording.fs
    if fs != recording.fs:
        emg, _ = signal.resample(emg, recording.fs, fs)
    starts = signal.window_starts(emg.shape[0], config.window, config.stride)
    labels = np.full(starts.size, int(recording.labels[0]), dtype=np.int64)
    return Windows(emg, starts, config.window, splits=np.full(starts.size, split, dtype=object), labels=labels)


def assign(files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """PreTrainingDataset participants: held-out ones (`held_out_subjects`) to validation, the
    others to train; EvaluationDataset participants (all 18) to evaluation."""
    held_out = held_out_subjects(NAME, PRETRAINING_SUBJECTS)

    def split_of(file: Path) -> str | tuple[None, str]:
        try:
            where = describe(file)
        except ValueError as exc:
            return None, str(exc)
        if where["dataset_part"] == "EvaluationDataset":
            return "evaluation"
        return "validation" if where["subject"] in held_out else "train"

    return assign_by(files, split_of)


DECISIONS = """\
- Published layout as in the authors' repository: `<PreTrainingDataset|EvaluationDataset>/
  <participant>/<round>/classe_<i>.dat`, raw little-endian int16, 8 interleaved channels at
  200 Hz; gesture = i mod 7 (0 neutral, 1 radial deviation, 2 wrist flexion, 3 ulnar deviation,
  4 wrist extension, 5 hand close, 6 hand open), cycle = i div 7 (4 per round).
- Splits: `train` = the 22 PreTrainingDataset participants but the held-out ones (`validation`:
  Male3 and Male10, the 10 % rule of the pretraining corpora); `evaluation` = the 18
  EvaluationDataset participants, every round (`training0`, `Test0`, `Test1`). Male15, which the
  published protocol leaves out, is kept: the transfer benchmark tunes its hyperparameters on it
  (docs/transfer.md). The protocols (`tinymyo_jax/evaluate/transfer.py`) find each window's
  participant, round and cycle from its `file_index` (prep_report.json's `files`): no new record
  field. Labels are stored for every split; pretraining ignores them.
- Participant ids (`subject`): PreTrainingDataset Female<N> -> N, Male<N> -> 10 + N;
  EvaluationDataset Female<N> -> 100 + N, Male<N> -> 110 + N.
- **No band-pass and no notch** (measured below, "Filter or not"): the armband streams
  band-limited 8-bit EMG, and the 200-Hz corpora's 20-90 Hz band-pass + 50 Hz notch cost the
  pretrained encoder 7 points for a new user and 3 with one labelled cycle. Each channel is
  divided by its std pooled over the whole round (a round is one session of the armband on the
  arm): a per-file z-score would erase the amplitude that tells the gestures apart (every
  channel's RMS would be 1). `tests/data/test_myo_armband.py` checks every evaluation window of
  five participants against the raw int16 counts divided by that std.
- Windows: 1 s, inside each file (none crosses a gesture): `w1000` (default) the scaled
  signal resampled to 1 kHz, 1000 samples, stride 500; `w200` at the Myo's own 200 Hz, 200
  samples, stride 100 (as DB5's w200). The default was chosen by the measurement in docs/data.md
  (myo_armband); configs/pretrain/real_small.py trains on w200 (docs/transfer.md).
"""

INSTRUCTIONS = """\
Clone https://github.com/UlysseCoteAllard/MyoArmbandDataset (GPL-3.0) and give its folder (the
one holding PreTrainingDataset/ and EvaluationDataset/) as the manual dir.
"""

CORPUS = Corpus(
    protocol=CorpusProtocol(
        name=NAME, task="classification", fs=FS_HZ, band=BAND, notch_hz=NOTCH_HZ, channels=8,
        configs=(W1000, W200), splits=SPLITS, cut=cut, assign=assign, class_names=CLASS_NAMES,
    ),
    dataset_id=8, reader="tinymyo_jax.data.readers.myo_armband", decisions=DECISIONS,
    homepage="https://github.com/UlysseCoteAllard/MyoArmbandDataset", instructions=INSTRUCTIONS,
    emg_bound=1e3,  # Myo counts: 8-bit levels stored as int16
    nested_root=False,
)  # fmt: skip

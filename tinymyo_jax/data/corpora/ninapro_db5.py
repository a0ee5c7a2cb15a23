"""NinaPro DB5 (Myo, 16 ch, 200 Hz): 52-gesture classification, split by repetition."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from tinymyo_jax.data import signal
from tinymyo_jax.data.corpora import Corpus, Downstream, _ninapro
from tinymyo_jax.data.protocols import SPLITS, CorpusProtocol, WindowConfig, Windows, every_split
from tinymyo_jax.data.recording import Recording

NAME = "ninapro_db5"
# Repetition -> split (BF-PR4 db5.py); repetition 0 (rest) and others are dropped.
REPETITION_SPLITS: Mapping[int, str] = {1: "train", 2: "train", 5: "train", 4: "validation", 6: "validation", 3: "test"}
CLASSES = 52


def cut(protocol: CorpusProtocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """Every start < T (tail windows zero-padded, as TinyMyo); label and repetition at the first
    sample; split by that repetition; label = global movement id - 1 (0..51)."""
    if recording.labels is None or recording.repetition is None:
        raise ValueError(f"{recording.meta.file}: DB5 recordings carry labels and repetitions")
    emg, recording = protocol.preprocess(recording)
    starts = signal.window_starts(emg.shape[0], config.window, config.stride, pad_tail=True)
    movement = signal.labels_at(recording.labels, starts, config.window, "first").astype(np.int64)
    repetition = signal.labels_at(recording.repetition, starts, config.window, "first")
    splits = np.array([REPETITION_SPLITS.get(int(r)) for r in repetition], dtype=object)
    in_split = splits != None  # noqa: E711  (elementwise over an object array)
    keep = in_split & (movement >= 1) & (movement <= CLASSES)
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


DECISIONS = """\
- 16 Myo channels at 200 Hz, band-pass 20-90 Hz.
- Window 200 samples = 1 s (§12.2: BF-PR8's "1 s", the old "200" read as samples); stride 100
  (not stated by any source; half a window, as for the other sets).
- Windows start at every multiple of the stride below T and the last ones are zero-padded past
  the end (§12.9, TinyMyo's DB5 script). Label and repetition are taken at the window's first
  sample.
- Split by that repetition: 1, 2, 5 train; 4, 6 validation; 3 test. Repetition 0 (rest) drops
  the window (§12.8), as in TinyMyo; the report counts them.
- Classes (§12.7): 52. Labels = global movement id - 1 (E1 1-12, E2 13-29, E3 30-52 -> 0-51).
  TinyMyo's code keeps ids 0-52 with 53 outputs, but id 0 (rest) cannot survive the repetition
  rule, so its 53rd output is never trained.
"""

INSTRUCTIONS = """\
Download s1.zip ... s10.zip from the NinaPro DB5 page (https://ninapro.hevs.ch, "DB5", files
under DB5_Preproc/) and unzip each into the manual dir, giving s<N>/S<N>_E<1-3>_A1.mat.
"""

CORPUS = Corpus(
    protocol=CorpusProtocol(
        name=NAME, task="classification", fs=200.0, band=(20.0, 90.0), channels=16,
        configs=(WindowConfig("w200", 200, 100),), splits=SPLITS, cut=cut, assign=every_split,
        class_names=tuple(f"movement_{i}" for i in range(1, CLASSES + 1)),
    ),
    dataset_id=0, reader=_ninapro.READER, synth=_ninapro.SYNTH, decisions=DECISIONS,
    homepage=_ninapro.HOMEPAGE.format(db="DB5"), instructions=INSTRUCTIONS,
    benchmark=Downstream("w200", "accuracy"),
    emg_bound=1e3,  # Myo counts: 8-bit (-128..127)
)  # fmt: skip

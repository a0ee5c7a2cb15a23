"""EMG-EPN-612 (Myo, 8 ch, 200 Hz): 6-gesture classification, one window per trial."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from tinymyo_jax.data.corpora import Corpus, Downstream
from tinymyo_jax.data.protocols import SPLITS, CorpusProtocol, WindowConfig, Windows, every_split
from tinymyo_jax.data.recording import Recording

NAME = "epn612"
# The reader's TinyMyo assignment of a trial -> TFDS split.
TRIAL_SPLITS: Mapping[str, str] = {"train": "train", "val": "validation", "test": "test"}


def cut(protocol: CorpusProtocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """One window per trial: the trial preprocessed on its own (z-score per trial), then cut to
    W samples or zero-padded at the end; split from the reader's TinyMyo assignment."""
    trial_split = TRIAL_SPLITS.get(recording.meta.extra.get("split"))  # type: ignore[arg-type]
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


DECISIONS = """\
- 8 Myo channels at 200 Hz, band-pass 20-90 Hz; each trial is filtered and z-scored on its
  own, then cut to 1000 samples (5 s, §12.3) or zero-padded at the end: one window per trial.
- Classes (§12.7): 6, noGesture included (TinyMyo's code: noGesture 0, waveIn 1, waveOut 2,
  pinch 3, open 4, fist 5; its doc's "5 classes" does not match the code or the corpus).
- Split as TinyMyo: trainingJSON users' trainingSamples -> train, testingSamples ->
  validation; testingJSON users' trainingSamples: first 10 of each gesture -> train, the rest
  -> test; their unlabelled testingSamples are not used.
"""

INSTRUCTIONS = """\
Download "EMG-EPN612 Dataset.zip" from Zenodo record 4421500 (https://zenodo.org/records/4421500)
and unzip it into the manual dir, giving EMG-EPN612 Dataset/{trainingJSON,testingJSON}/
user<N>/user<N>.json.
"""

CORPUS = Corpus(
    protocol=CorpusProtocol(
        name=NAME, task="classification", fs=200.0, band=(20.0, 90.0), channels=8,
        configs=(WindowConfig("w1000", 1000, 1000),), splits=SPLITS, cut=cut, assign=every_split,
        class_names=("noGesture", "waveIn", "waveOut", "pinch", "open", "fist"),
    ),
    dataset_id=5, reader="tinymyo_jax.data.readers.epn612", synth="tinymyo_jax.data.synth.epn612",
    decisions=DECISIONS, homepage="https://zenodo.org/records/4421500", instructions=INSTRUCTIONS,
    benchmark=Downstream("w1000", "accuracy"),
    emg_bound=1e3,  # Myo counts: 8-bit (-128..127)
)  # fmt: skip

"""NinaPro DB8 (Delsys, 16 ch, 2 kHz): regression of 5 degrees of actuation, split by acquisition."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from tinymyo_jax.data import signal
from tinymyo_jax.data.corpora import Corpus, Downstream, _ninapro
from tinymyo_jax.data.protocols import SPLITS, CorpusProtocol, W1000, WindowConfig, Windows, assign_by
from tinymyo_jax.data.recording import Recording

NAME = "ninapro_db8"
_ACQUISITION = re.compile(r"_A(\d+)\.mat$", re.I)
ACQUISITION_SPLITS: Mapping[int, str] = {1: "train", 2: "validation", 3: "test"}


def cut(protocol: CorpusProtocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
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


def _split(file: Path) -> str | tuple[None, str]:
    match = _ACQUISITION.search(file.name)
    split = ACQUISITION_SPLITS.get(int(match.group(1))) if match else None
    if split is None:
        return None, "acquisition is not A1, A2 or A3: DB8 splits by acquisition (A1 train, A2 validation, A3 test)"
    return split


def assign(files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Split by acquisition: A1 train, A2 validation, A3 test."""
    return assign_by(files, _split)


DECISIONS = """\
- Sampling rate (§12.5): the files hold every signal on a 2 kHz grid (EMG acquired at 1111 Hz
  and upsampled), so we filter at 2 kHz with the pretraining band 20-450 Hz and a 50 Hz notch.
  TinyMyo's script designed 20-90 Hz / 50 Hz filters for 1111 Hz and ran them on the 2 kHz
  data, which really band-passed ~36-162 Hz and notched ~90 Hz; we do not reproduce that.
- Windows (§12.4): configs w1000 (default, 500 ms, TinyMyo's best) and w200 (100 ms); stride
  half a window (not stated by any source); windows that fit.
- Target: the window's whole DoA sequence [W, 5] float32, in degrees (DoA = glove x Krasoulis
  matrix, computed by the reader; glove NaN rows dropped there, as TinyMyo does).
- Split by acquisition: A1 train, A2 validation, A3 test.
"""

INSTRUCTIONS = """\
Download S<N>_E1_A<1-3>.mat for N = 1..12 from the NinaPro DB8 page (https://ninapro.hevs.ch,
files under DB8/) straight into the manual dir (flat, no zip).
"""

CORPUS = Corpus(
    protocol=CorpusProtocol(
        name=NAME, task="regression", fs=2000.0, band=(20.0, 450.0), channels=16,
        configs=(W1000, WindowConfig("w200", 200, 100)), splits=SPLITS, cut=cut, assign=assign,
        target_names=("doa_1", "doa_2", "doa_3", "doa_4", "doa_5"),
    ),
    dataset_id=3, reader=_ninapro.READER, synth=_ninapro.SYNTH, decisions=DECISIONS,
    homepage=_ninapro.HOMEPAGE.format(db="DB8"), instructions=INSTRUCTIONS,
    # 1000 samples at 2 kHz = 50 patches -> 10 segments of 5 patches (50 ms each)
    benchmark=Downstream("w1000", "mae", segments=10),
    emg_bound=10.0,  # volts
)  # fmt: skip

"""NinaPro DB7 (Delsys, 12 ch, 2 kHz; 2 amputees): pretraining, whole subjects held out."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from tinymyo_jax.data.corpora import Corpus, _ninapro
from tinymyo_jax.data.decisions import PRETRAINING
from tinymyo_jax.data.protocols import PRETRAIN_SPLITS, CorpusProtocol, W1000, assign_held_out_subjects, cut_pretraining

NAME = "ninapro_db7"

DECISIONS = """\
- 12 channels; rows 12-15 are padding.
- Window 1000 / stride 500 (§12.10): the documented values and the pretrained model's input,
  not the script's 256 / 128 defaults.
""" + PRETRAINING

INSTRUCTIONS = """\
Download Subject_<N>.zip for N = 1..22 from the NinaPro DB7 page (https://ninapro.hevs.ch,
files under DB7_Preproc/) and unzip each into Subject_<N>/ in the manual dir, giving
Subject_<N>/S<N>_E<1-2>_A1.mat.
"""


def assign(files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Whole subjects held out (`held_out_subjects`: subjects 9 and 12 of the full corpus)."""
    return assign_held_out_subjects(NAME, files, _ninapro.subject, _ninapro.UNKNOWN_SUBJECT)


CORPUS = Corpus(
    protocol=CorpusProtocol(
        name=NAME, task="pretraining", fs=2000.0, band=(20.0, 450.0), channels=12, configs=(W1000,),
        splits=PRETRAIN_SPLITS, cut=cut_pretraining, assign=assign,
    ),
    dataset_id=2, reader=_ninapro.READER, synth=_ninapro.SYNTH, decisions=DECISIONS,
    homepage=_ninapro.HOMEPAGE.format(db="DB7"), instructions=INSTRUCTIONS,
    emg_bound=10.0,  # volts
)  # fmt: skip

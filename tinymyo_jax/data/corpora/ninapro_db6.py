"""NinaPro DB6 (Delsys, 14 live of 16 ch, 2 kHz): pretraining, whole subjects held out."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from tinymyo_jax.data.corpora import Corpus, _ninapro
from tinymyo_jax.data.decisions import PRETRAINING
from tinymyo_jax.data.protocols import PRETRAIN_SPLITS, CorpusProtocol, W1000, assign_held_out_subjects, cut_pretraining

NAME = "ninapro_db6"

DECISIONS = """\
- 14 electrodes: the reader removes the always-zero columns 8 and 9; rows 14-15 are padding.
""" + PRETRAINING

INSTRUCTIONS = """\
Download DB6_s<N>_a.zip and DB6_s<N>_b.zip for N = 1..10 from the NinaPro DB6 page
(https://ninapro.hevs.ch, files under DB6_Preproc/) and unzip them all into the manual dir,
giving DB6_s<N>_a/S<N>_D<d>_T<t>.mat and DB6_s<N>_b/... (macOS clutter is ignored).
"""


def assign(files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Whole subjects held out (`held_out_subjects`: subject 4 of the full corpus)."""
    return assign_held_out_subjects(NAME, files, _ninapro.subject, _ninapro.UNKNOWN_SUBJECT)


CORPUS = Corpus(
    protocol=CorpusProtocol(
        name=NAME, task="pretraining", fs=2000.0, band=(20.0, 450.0), channels=14, configs=(W1000,),
        splits=PRETRAIN_SPLITS, cut=cut_pretraining, assign=assign,
    ),
    dataset_id=1, reader=_ninapro.READER, synth=_ninapro.SYNTH, decisions=DECISIONS,
    homepage=_ninapro.HOMEPAGE.format(db="DB6"), instructions=INSTRUCTIONS,
    emg_bound=10.0,  # volts
)  # fmt: skip

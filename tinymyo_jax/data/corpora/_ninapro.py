"""What the four NinaPro corpora share: their reader, their writer, the subject in a file name,
and (DB6, DB7) the whole pretraining protocol but for the channel count."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Sequence

from tinymyo_jax.data.corpora import Corpus
from tinymyo_jax.data.protocols import CorpusProtocol, PRETRAIN_SPLITS, W1000, assign_held_out_subjects, cut_pretraining

READER = "tinymyo_jax.data.readers.ninapro"
SYNTH = "tinymyo_jax.data.synth.ninapro"
HOMEPAGE = "https://ninapro.hevs.ch/instructions/{db}.html"

_SUBJECT = re.compile(r"^S(\d+)_", re.I)
UNKNOWN_SUBJECT = "the subject number cannot be read from the file name"


def subject(path: Path) -> int | None:
    """The subject of a NinaPro file from its name (`S<N>_...`), or None."""
    match = _SUBJECT.match(Path(path).name)
    return int(match.group(1)) if match else None


def pretraining_corpus(name: str, *, channels: int, dataset_id: int, decisions: str, instructions: str):
    """A NinaPro pretraining corpus (DB6, DB7): whole subjects held out (`held_out_subjects`),
    2 kHz, 20-450 Hz, windows of 1000 samples."""
    return Corpus(
        protocol=CorpusProtocol(
            name=name, task="pretraining", fs=2000.0, band=(20.0, 450.0), channels=channels, configs=(W1000,),
            splits=PRETRAIN_SPLITS, cut=cut_pretraining, assign=functools.partial(assign_held_out, name),
        ),
        dataset_id=dataset_id, reader=READER, synth=SYNTH, decisions=decisions,
        homepage=HOMEPAGE.format(db=name.removeprefix("ninapro_").upper()), instructions=instructions,
        emg_bound=10.0,  # volts
    )  # fmt: skip


def assign_held_out(name: str, files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Whole subjects held out (`held_out_subjects`); a module-level function so that the
    protocol pickles (beam workers)."""
    return assign_held_out_subjects(name, files, subject, UNKNOWN_SUBJECT)

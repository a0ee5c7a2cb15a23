"""emg2pose (Meta, 16 ch wristband, 2 kHz): pretraining, whole users held out."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Sequence

from tinymyo_jax.data.corpora import Corpus
from tinymyo_jax.data.decisions import PRETRAINING
from tinymyo_jax.data.protocols import PRETRAIN_SPLITS, CorpusProtocol, W1000, assign_held_out_subjects, cut_pretraining
from tinymyo_jax.data.recording import hashed_id

NAME = "emg2pose"


def users(root: Path) -> dict[str, str]:
    """filename -> user from `<root>/metadata.csv` ({} when it cannot be read: the reader then
    reports the problem file by file)."""
    try:
        with open(Path(root) / "metadata.csv", newline="", encoding="utf-8") as handle:
            return {row["filename"].strip(): row["user"].strip() for row in csv.DictReader(handle)
                    if row.get("filename") and row.get("user")}  # fmt: skip
    except (OSError, KeyError, UnicodeDecodeError):
        return {}


def assign(files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Whole users held out (19 of 193); a file's user is its metadata.csv row (parsed once: 25k rows)."""
    by_file = users(root)

    def subject(path: Path) -> int | None:
        user = by_file.get(path.name.removesuffix(".hdf5"))
        return None if user is None else hashed_id(user)

    return assign_held_out_subjects(NAME, files, subject, "not listed in metadata.csv (or no user), so its subject is unknown")


DECISIONS = """\
- 16 channels; joint angles are not stored (pretraining only). Subjects are metadata.csv users
  (id = SHA-256 prefix of the user string, see the reader); Meta's own train/val/test column is
  not used, subjects are held out as below (§12.13: the corpus's user count, 193 or 192, does
  not matter to this rule).
- Notch at 50 Hz as TinyMyo, although emg2pose was recorded on 60 Hz mains.
""" + PRETRAINING

INSTRUCTIONS = """\
Download emg2pose_dataset.tar (431 GiB; or emg2pose_dataset_mini.tar, ~600 MiB) and
emg2pose_metadata.csv as described at https://github.com/facebookresearch/emg2pose. Extract the
tar and put the CSV beside the .hdf5 files as metadata.csv, so the manual dir holds
metadata.csv and <filename>.hdf5 for every row.
"""

CORPUS = Corpus(
    protocol=CorpusProtocol(
        name=NAME, task="pretraining", fs=2000.0, band=(20.0, 450.0), channels=16, configs=(W1000,),
        splits=PRETRAIN_SPLITS, cut=cut_pretraining, assign=assign,
    ),
    dataset_id=4, reader="tinymyo_jax.data.readers.emg2pose", synth="tinymyo_jax.data.synth.emg2pose",
    decisions=DECISIONS, homepage="https://github.com/facebookresearch/emg2pose", instructions=INSTRUCTIONS,
    emg_bound=1e4,  # unit-scale floats (units undocumented): a generous bound
)  # fmt: skip

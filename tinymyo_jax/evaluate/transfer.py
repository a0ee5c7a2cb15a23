"""The transfer protocols of the Myo armband corpus (issue 20): which windows train and which
test, as pure functions of a `WindowTable` (participant, round, cycle, label per window).

- `within_participant(table, p, k)`: train on the first k cycles of participant p's `training0`
  round (k = 4: the whole round, the published protocol), test on its `Test0` + `Test1`.
- `new_user(table, p, participants)`: leave one participant out: train on every round of the
  other participants, test on every round of p.

Participants are the records' subject ids (readers/myo_armband.py). The published evaluation
participants are Female0-1 and Male0-14 (17, `PUBLISHED`); the corpus also holds Male15
(`TUNING`), which the authors left out: the benchmark chooses every hyperparameter (probe L2,
LDA shrinkage) on it, never on the 17 it reports.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from tinymyo_jax.data.readers.myo_armband import describe, subject_id

ROUNDS = ("training0", "Test0", "Test1")
TRAIN_ROUND = "training0"
TEST_ROUNDS = ("Test0", "Test1")
CYCLES = 4
PUBLISHED: tuple[int, ...] = tuple(
    [subject_id("EvaluationDataset", f"Female{i}") for i in range(2)]
    + [subject_id("EvaluationDataset", f"Male{i}") for i in range(15)]
)
TUNING = subject_id("EvaluationDataset", "Male15")


@dataclasses.dataclass(frozen=True)
class WindowTable:
    """Per window of the `evaluation` split: subject (N,), round (N,) str, cycle (N,), label (N,)."""

    subject: np.ndarray
    round: np.ndarray
    cycle: np.ndarray
    label: np.ndarray

    def __len__(self) -> int:
        return int(self.subject.size)

    @property
    def participants(self) -> tuple[int, ...]:
        return tuple(int(s) for s in np.unique(self.subject))


def window_table(files: Sequence[Mapping], file_index: np.ndarray, subject: np.ndarray, label: np.ndarray) -> WindowTable:
    """The table of windows from their records' `file_index`, `subject` and `label` and the
    prep_report.json `files` entries (the file path gives round and cycle). Refuses a record
    whose subject or label disagrees with its file's place in the layout."""
    by_index = {int(f["index"]): describe(f["file"]) for f in files if f.get("status") == "used"}
    missing = sorted(set(np.unique(file_index).tolist()) - set(by_index))
    if missing:
        raise ValueError(f"windows of files {missing[:5]} have no used entry in the report")
    rounds = np.array([by_index[int(i)]["round"] for i in file_index], dtype=object)
    cycles = np.array([by_index[int(i)]["cycle"] for i in file_index], dtype=np.int64)
    expected_subject = np.array([by_index[int(i)]["subject"] for i in file_index], dtype=np.int64)
    expected_label = np.array([by_index[int(i)]["label"] for i in file_index], dtype=np.int64)
    if not (np.array_equal(expected_subject, np.asarray(subject, np.int64)) and np.array_equal(expected_label, np.asarray(label, np.int64))):
        raise ValueError("the records' subject or label disagree with their files' place in the layout")
    return WindowTable(np.asarray(subject, np.int64), rounds, cycles, np.asarray(label, np.int64))


def within_participant(table: WindowTable, participant: int, cycles: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows): the first `cycles` cycles of `training0`; `Test0` + `Test1`."""
    if not 1 <= cycles <= CYCLES:
        raise ValueError(f"cycles must be 1..{CYCLES}, got {cycles}")
    mine = table.subject == participant
    if not mine.any():
        raise ValueError(f"participant {participant} has no windows")
    train = mine & (table.round == TRAIN_ROUND) & (table.cycle < cycles)
    test = mine & np.isin(table.round, TEST_ROUNDS)
    return np.flatnonzero(train), np.flatnonzero(test)


def new_user(table: WindowTable, participant: int, participants: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, test rows): every round of the other `participants`; every round of `participant`."""
    if participant not in participants:
        raise ValueError(f"participant {participant} is not one of the {len(participants)} of the protocol")
    others = [p for p in participants if p != participant]
    return np.flatnonzero(np.isin(table.subject, others)), np.flatnonzero(table.subject == participant)

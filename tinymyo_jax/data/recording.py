"""The Recording: what every corpus reader returns (the reader -> signal-processing contract).

One Recording is one continuous acquisition from one raw file (or one trial, for corpora that
store trials). Arrays are in the file's own units; nothing is filtered or normalised here.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np


def hashed_id(name: str) -> int:
    """A stable int32 id (0 <= id < 2**31) of a subject or session name: the first 4 bytes of its
    UTF-8 SHA-256, big-endian. For corpora whose subjects are strings (emg2pose users, users'
    folders)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


@dataclasses.dataclass(frozen=True)
class RecordingMeta:
    """Where a recording came from. `subject`/`session` follow the file name, not in-file scalars."""

    dataset: str  # TFDS-style corpus name, e.g. "ninapro_db6"
    subject: int
    session: int | None
    file: str  # path of the raw file, relative to the corpus root where possible
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Recording:
    """A continuous multi-channel EMG recording.

    emg:        float32 [T, C], the file's units (volts, ADC counts, ...).
    fs:         sampling rate in Hz.
    labels:     optional int [T] per-sample class label (e.g. NinaPro `restimulus`).
    repetition: optional int [T] per-sample repetition index (NinaPro `rerepetition`); 0 = rest.
    targets:    optional float32 [T, K] per-sample regression targets (DB8 degrees of actuation,
                emg2pose joint angles).
    meta:       provenance.
    """

    emg: np.ndarray
    fs: float
    meta: RecordingMeta
    labels: np.ndarray | None = None
    repetition: np.ndarray | None = None
    targets: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.emg.ndim != 2:
            raise ValueError(f"{self.meta.file}: emg must be [T, C], got shape {self.emg.shape}")
        n = self.emg.shape[0]
        for name in ("labels", "repetition", "targets"):
            value = getattr(self, name)
            if value is not None and value.shape[0] != n:
                raise ValueError(
                    f"{self.meta.file}: {name} has {value.shape[0]} samples but emg has {n}; "
                    "readers must align (truncate to the shorter) before building a Recording"
                )

    @property
    def num_samples(self) -> int:
        return int(self.emg.shape[0])

    @property
    def num_channels(self) -> int:
        return int(self.emg.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.fs

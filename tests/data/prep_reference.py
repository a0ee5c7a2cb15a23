"""Helpers for the preparation tests: build a corpus, read its records, and an independent reference.

The reference recomputes TinyMyo's chain with scipy directly, in the (b, a) form TinyMyo's
scripts use (`butter` + `filtfilt`, `iirnotch` + `filtfilt`), not through
`tinymyo_jax.data.signal`, so a mistake there would show up here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import scipy.signal
import tensorflow_datasets as tfds

from tinymyo_jax.data import builder
from tinymyo_jax.data.source import WindowShards

tfds.disable_progress_bar()


def build(
    name: str,
    manual_dir: Path,
    data_dir: Path,
    *,
    config: str | None = None,
    workers: int = 1,
    beam_options: Any = None,
    num_shards: int | None = None,
) -> tuple[dict[str, Any], Path]:
    """Prepare `name` from `manual_dir` into `data_dir`; returns (report, dataset folder)."""
    cls = builder.builder_class(name)
    dataset = cls(data_dir=str(data_dir), **({"config": config} if config else {}))
    dataset.num_workers = workers
    dataset.show_progress = False
    dataset.print_summary = False
    dataset.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir), beam_options=beam_options, num_shards=num_shards)
    )
    return dataset.report, Path(dataset.data_dir)


def read_split(name: str, split: str, data_dir: Path, config: str | None = None) -> dict[str, np.ndarray]:
    """Every record of a split, stacked, in shard order."""
    shards = WindowShards(name, split, data_dir=data_dir, config=config)
    return shards.read_batch(np.arange(len(shards)))


def by_key(records: dict[str, np.ndarray]) -> dict[tuple[int, int, int], dict[str, Any]]:
    """(file_index, recording, start) -> that record's fields."""
    keys = zip(records["file_index"].tolist(), records["recording"].tolist(), records["start"].tolist())
    return {key: {k: v[i] for k, v in records.items()} for i, key in enumerate(keys)}


def file_index(report: dict[str, Any], relative: str) -> int:
    """The records' file_index of a raw file (path relative to the corpus root)."""
    matches = [entry["index"] for entry in report["files"] if entry["file"] == relative]
    assert len(matches) == 1, (relative, [e["file"] for e in report["files"]])
    return matches[0]


def reference_preprocess(x: np.ndarray, fs: float, band: tuple[float, float]) -> np.ndarray:
    """TinyMyo's chain in scipy's (b, a) form: band-pass order 4, notch 50 Hz Q 30, both
    filtfilt along time, then z-score per channel (ddof 1, std 0 -> 1). x: [T, C]."""
    x = np.asarray(x, dtype=np.float64)
    b, a = scipy.signal.butter(4, band, btype="bandpass", fs=fs)
    y = scipy.signal.filtfilt(b, a, x, axis=0)
    b, a = scipy.signal.iirnotch(50.0, 30.0, fs=fs)
    y = scipy.signal.filtfilt(b, a, y, axis=0)
    std = y.std(axis=0, ddof=1)
    return (y - y.mean(axis=0)) / np.where(std == 0, 1.0, std)


def window(z: np.ndarray, start: int, length: int) -> np.ndarray:
    """[C, W] window of a [T, C] signal, zero-padded past the end."""
    out = np.zeros((z.shape[1], length))
    piece = z[start : start + length]
    out[:, : piece.shape[0]] = piece.T
    return out


def assert_emg_matches(stored: np.ndarray, expected: np.ndarray, channels: int) -> None:
    """Stored float16 [16, W] == expected [C, W] to float16 rounding; padding rows exactly zero."""
    assert stored.dtype == np.float16 and stored.shape[0] == 16
    np.testing.assert_allclose(stored[:channels].astype(np.float64), expected, rtol=2e-3, atol=2e-3)
    assert not np.any(stored[channels:])


def sliding_starts(num_samples: int, length: int, stride: int) -> list[int]:
    """Windows that fit: 0, S, 2S, ... while start + W <= T."""
    return list(range(0, num_samples - length + 1, stride))


def uci_rows(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A UCI text file as (time ms, emg [T, 8], class): the rows of exactly 10 fields after the
    header, as datasets.md §7.2 defines them (plain numpy, not the reader)."""
    rows = [line.split() for line in path.read_text().splitlines()[1:]]
    table = np.array([r for r in rows if len(r) == 10], dtype=float)
    return table[:, 0], table[:, 1:9], table[:, 9].astype(int)

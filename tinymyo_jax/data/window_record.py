"""The window record: what the TFDS builders store per window (the builders -> trainer contract).

| feature        | dtype, shape        | meaning                                                        |
|----------------|---------------------|----------------------------------------------------------------|
| `emg`          | float16 [16, W]     | preprocessed (filtered, z-scored) EMG; real channels first,    |
|                |                     | zero rows after them                                           |
| `channel_mask` | bool [16]           | True for real, live channels; False for padding and for        |
|                |                     | channels constant over the whole recording (dead electrodes)   |
| `subject`      | int32               | subject id (corpus numbering; emg2pose: hash of the user)      |
| `dataset`      | int (ClassLabel)    | corpus: its `dataset_id` (data/corpora, `corpora.names()`)     |
| `file_index`   | int32               | raw file, index into prep_report.json's `files`                |
| `recording`    | int32               | recording within the file (EPN-612: labelled trial; else 0)    |
| `start`        | int32               | first sample of the window in the recording (protocol's rate)  |
| `label`        | int (ClassLabel)    | classification corpora only                                    |
| `target`       | float32 [W, K]      | regression corpora only (NinaPro DB8: K = 5 DoA, degrees)      |

Storage: `emg` is float16 raw bytes (TFDS `Encoding.BYTES`): 32,000 bytes for 16 x 1000, half
of float32, and decoded by `np.frombuffer` without TensorFlow. The values are z-scores, so
float16's 11-bit mantissa bounds the rounding error by 2^-11 relative (measured on synthetic
emg2pose recordings: RMS error 2.1e-4, max 2e-3 at |z| <= 7, far below sEMG noise) and its range
(65,504) by far exceeds any z-score of a real recording. The shards are written uncompressed
(see builder.py): z-scored float16 EMG shrank by only ~7 % under ArrayRecord's default
compression, which cut the random-read rate ~3x. On disk a 16 x 1000 record takes ~32.3 KB.

Keys ("<file_index>_<recording>_<start>") are unique per split; TFDS orders the examples of a
split by a hash of the key, so the shards depend on the raw input alone, not on which worker
or runner produced a window first.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from tinymyo_jax.data import signal
from tinymyo_jax.data import corpora
from tinymyo_jax.data.protocols import CorpusProtocol, WindowConfig, Windows
from tinymyo_jax.data.recording import Recording

EMG_DTYPE = np.float16
MAX_CHANNELS = signal.MAX_CHANNELS
CHUNK = 256  # windows cut at a time


def features(protocol: CorpusProtocol, config: WindowConfig) -> Any:
    """The TFDS FeaturesDict of `protocol`'s window records (imports TFDS, so only builders call it)."""
    import tensorflow_datasets as tfds

    tf_features = tfds.features
    spec: dict[str, Any] = {
        "emg": tf_features.Tensor(
            shape=(MAX_CHANNELS, config.window), dtype=EMG_DTYPE, encoding=tf_features.Encoding.BYTES,
            doc="preprocessed EMG, channels x samples (z-scores; zero rows after the real channels)",
        ),
        "channel_mask": tf_features.Tensor(
            shape=(MAX_CHANNELS,), dtype=np.bool_, doc="True for real, live channels"
        ),
        "subject": tf_features.Scalar(dtype=np.int32, doc="subject id"),
        "dataset": tf_features.ClassLabel(names=corpora.names(), doc="source corpus"),
        "file_index": tf_features.Scalar(dtype=np.int32, doc="raw file: index into prep_report.json files"),
        "recording": tf_features.Scalar(dtype=np.int32, doc="recording (trial) within the raw file"),
        "start": tf_features.Scalar(dtype=np.int32, doc="first sample of the window in the recording"),
    }  # fmt: skip
    if protocol.class_names is not None:
        spec["label"] = tf_features.ClassLabel(names=protocol.class_names, doc="gesture class")
    if protocol.target_names is not None:
        spec["target"] = tf_features.Tensor(
            shape=(config.window, len(protocol.target_names)), dtype=np.float32,
            encoding=tf_features.Encoding.BYTES, doc=f"per-sample targets {', '.join(protocol.target_names)}",
        )  # fmt: skip
    return tf_features.FeaturesDict(spec)


def channel_mask(recording: Recording, num_channels: int = MAX_CHANNELS) -> np.ndarray:
    """bool [16]: True for the recording's channels that are not constant over the recording.

    Uses the reader's `extra["dead_channels"]` when it is there, else finds constant channels.
    """
    mask = np.zeros(num_channels, dtype=bool)
    mask[: recording.num_channels] = True
    dead = recording.meta.extra.get("dead_channels")
    if dead is None:
        dead = np.flatnonzero(np.ptp(recording.emg, axis=0) == 0).tolist()
    mask[list(dead)] = False
    return mask


def key(file_index: int, recording_index: int, start: int) -> str:
    return f"{file_index:06d}_{recording_index:05d}_{start:010d}"


def records(
    windows: Windows,
    protocol: CorpusProtocol,
    recording: Recording,
    *,
    file_index: int,
    recording_index: int,
    split: str,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(key, window record) for each window of `windows` in `split`.

    Windows are cut `CHUNK` at a time from the float16 signal (rounding before or after cutting
    gives the same values), so memory stays at a few MB whatever the recording's length.
    """
    chosen = np.flatnonzero(windows.splits == split)
    if chosen.size == 0:
        return
    emg16 = windows.signal.astype(EMG_DTYPE)
    mask = channel_mask(recording)
    for first in range(0, chosen.size, CHUNK):
        rows = chosen[first : first + CHUNK]
        starts = windows.starts[rows]
        padded, _ = signal.pad_channels(signal.extract_windows(emg16, starts, windows.length), MAX_CHANNELS)
        targets = None
        if windows.target_signal is not None:  # [n, K, W] -> [n, W, K]
            targets = signal.extract_windows(windows.target_signal, starts, windows.length).transpose(0, 2, 1)
        for row, index in enumerate(rows):
            start = int(windows.starts[index])
            record: dict[str, Any] = {
                "emg": padded[row],
                # a channel constant over this window carries nothing here, whatever the recording
                "channel_mask": mask & (padded[row].max(axis=-1) != padded[row].min(axis=-1)),
                "subject": int(recording.meta.subject),
                "dataset": corpora.get(protocol.name).dataset_id,
                "file_index": file_index,
                "recording": recording_index,
                "start": start,
            }
            if windows.labels is not None:
                record["label"] = int(windows.labels[index])
            if targets is not None:
                record["target"] = np.ascontiguousarray(targets[row], dtype=np.float32)
            yield key(file_index, recording_index, start), record

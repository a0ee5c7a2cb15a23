"""The downstream splits of a benchmark: prepared TFDS window records, read in batches.

Downstream windows are stored padded to 16 channels with a `channel_mask`. Evaluation keeps the
protocol's channels (8 for EPN-612 and UCI, 16 for DB5 and DB8) and drops the padding rows, so
the encoder runs on the real channels alone, as TinyMyo does (it never pads downstream data).
The mask of those channels still travels with every window: a prepared recording can mark a dead
electrode (constant over the whole recording, e.g. in some NinaPro DB8 amputee files) as not
live, and the encoder then leaves it out of attention and the channel fusion zeroes (concat) or
skips (mean) it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Iterator

import ml_collections
import numpy as np

from tinymyo_jax.errors import UserError

SPLIT_KEYS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What evaluation needs to know about a prepared benchmark dataset."""

    name: str
    directory: Path
    task: str
    window: int  # samples per window
    channels: int  # channels fed to the model: the protocol's real channels (the first stored rows)
    num_classes: int  # classification; 0 for regression
    class_names: tuple[str, ...]
    target_names: tuple[str, ...]  # regression
    fingerprint: str  # sha256 of dataset_info.json: changes when the dataset is re-prepared
    split_sizes: dict[str, int]  # windows used per split (after max_windows)
    fs: float | None  # sampling rate of the windows (Hz) when the protocol fixes one


class Splits:
    """The train / validation / test WindowShards of a benchmark and the windows used of each."""

    def __init__(self, config: ml_collections.ConfigDict) -> None:
        from tinymyo_jax.data.source import WindowShards

        data = config.data
        fields = ["emg", "channel_mask", "subject", "label" if config.task == "classification" else "target"]
        names = {"train": data.train_split, "validation": data.validation_split, "test": data.test_split}
        self.shards = {
            key: WindowShards(data.name, split, data_dir=data.data_dir or None, config=data.builder_config or None, fields=fields)
            for key, split in names.items()
        }
        for key, shards in self.shards.items():
            if len(shards) == 0:
                raise UserError(f"{shards.directory}: split {names[key]!r} holds no windows; the {key} split of "
                                f"{config.benchmark} must not be empty (prepare more subjects or recordings)")
        self.indices = {key: subset(len(s), data.max_windows) for key, s in self.shards.items()}
        self.info = self._describe(config)

    def _describe(self, config: ml_collections.ConfigDict) -> DatasetInfo:
        train = self.shards["train"]
        directory = train.directory
        features = json.loads((directory / "features.json").read_text())["featuresDict"]["features"]
        window = int(train.specs["emg"].shape[1])
        channels = _protocol_channels(config.data.name)
        if config.data.name == "generic":  # users' corpora fix no channel count: the data's own
            channels = self._real_channels()
        num_classes, class_names, target_names = 0, (), ()
        if config.task == "classification":
            if "label" not in features:
                raise UserError(f"{directory} has no `label` feature: {config.data.name} is not a classification dataset")
            num_classes = int(features["label"]["classLabel"]["numClasses"])
            names_file = directory / "label.labels.txt"
            class_names = (tuple(names_file.read_text().split()) if names_file.is_file()
                           else tuple(str(i) for i in range(num_classes)))  # fmt: skip
        else:
            target_names = _target_names(config.data.name, int(train.specs["target"].shape[-1]))
        fingerprint = hashlib.sha256((directory / "dataset_info.json").read_bytes()).hexdigest()
        return DatasetInfo(
            name=config.data.name, directory=directory, task=config.task, window=window, channels=channels,
            num_classes=num_classes, class_names=class_names, target_names=target_names, fingerprint=fingerprint,
            split_sizes={key: int(len(self.indices[key])) for key in SPLIT_KEYS}, fs=_protocol_fs(config.data.name),
        )  # fmt: skip

    def _real_channels(self) -> int:
        """The rows that hold a real channel in any used window (the last live row + 1)."""
        last = 0
        for key, shards in self.shards.items():
            for start in range(0, len(self.indices[key]), 256):
                mask = shards.read_batch(self.indices[key][start : start + 256])["channel_mask"]
                live = np.flatnonzero(mask.any(axis=0))
                last = max(last, int(live[-1]) + 1 if live.size else 0)
        return max(last, 1)

    def batches(self, key: str, batch_size: int, fields: tuple[str, ...] | None = None) -> Iterator[dict[str, np.ndarray]]:
        """The used windows of split `key` in order, `batch_size` at a time (the last batch may be
        smaller): emg float16 (b, channels, W) and channel_mask (b, channels) with the padding rows
        removed, subject, and label or target."""
        indices = self.indices[key]
        for start in range(0, len(indices), batch_size):
            yield self.read(key, indices[start:start + batch_size], fields)

    def read(self, key: str, rows: np.ndarray, fields: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
        """Windows `rows` (indices into the split) with the real channels only."""
        batch = self.shards[key].read_batch(rows)
        channels = self.info.channels
        if batch["channel_mask"][:, channels:].any():
            raise UserError(f"{self.shards[key].directory}: split {key!r} has live channels after the first {channels}, "
                            f"the channel count of the {self.info.name} protocol; re-prepare the dataset")
        batch["emg"] = batch["emg"][:, :channels]
        batch["channel_mask"] = batch["channel_mask"][:, :channels]
        if fields is not None:
            batch = {k: v for k, v in batch.items() if k in fields}
        return batch


def subset(size: int, max_windows: int) -> np.ndarray:
    """All indices, or `max_windows` evenly spaced ones (first and last included): a fixed,
    class-spread subset for quick runs (prepared splits are stored in recording order)."""
    if max_windows <= 0 or max_windows >= size:
        return np.arange(size, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, size - 1, max_windows)).astype(np.int64))


def _protocol_channels(dataset: str) -> int:
    from tinymyo_jax.data.protocols import PROTOCOLS

    protocol = PROTOCOLS.get(dataset)
    return 16 if protocol is None else protocol.channels


def _protocol_fs(dataset: str) -> float | None:
    from tinymyo_jax.data.protocols import PROTOCOLS

    if dataset == "generic":
        from tinymyo_jax.data.generic import GENERIC

        return GENERIC.fs
    protocol = PROTOCOLS.get(dataset)
    return None if protocol is None else protocol.fs


def _target_names(dataset: str, k: int) -> tuple[str, ...]:
    from tinymyo_jax.data.protocols import PROTOCOLS

    protocol = PROTOCOLS.get(dataset)
    if protocol is not None and protocol.target_names and len(protocol.target_names) == k:
        return tuple(protocol.target_names)
    return tuple(f"target_{i + 1}" for i in range(k))


def segment_means(targets: np.ndarray, segments: int) -> np.ndarray:
    """(N, W, K) per-sample targets -> (N, S, K): the mean over each of S equal parts of the window."""
    n, w, k = targets.shape
    if w % segments:
        raise UserError(f"window of {w} samples does not split into {segments} equal segments")
    return targets.reshape(n, segments, w // segments, k).mean(axis=2)

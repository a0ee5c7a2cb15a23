"""The downstream splits of a benchmark: prepared TFDS window records, read in batches.

Downstream windows are stored padded to 16 channels with a `channel_mask`. Evaluation keeps the
real channels, whose count the prepared dataset's metadata.json holds (8 for EPN-612 and UCI, 16
for DB5 and DB8; users' corpora: what their files had), and drops the padding rows, so the
encoder runs on the real channels alone, as TinyMyo does (it never pads downstream data).
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

from tinymyo_jax.data.source import WindowShards, prepared_metadata
from tinymyo_jax.errors import UserError

SPLIT_KEYS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What evaluation needs to know about a prepared benchmark dataset."""

    name: str
    directory: Path
    task: str
    window: int  # samples per window
    channels: int  # channels fed to the model: the dataset's real channels (the first stored rows)
    num_classes: int  # classification; 0 for regression
    class_names: tuple[str, ...]
    target_names: tuple[str, ...]  # regression
    fingerprint: str  # sha256 of dataset_info.json: changes when the dataset is re-prepared
    split_sizes: dict[str, int]  # windows used per split (after max_windows)
    fs: float | None  # sampling rate of the windows (Hz) when the protocol fixes one
    channel_names: tuple[str, ...] | None = None  # when preparation knew them


class Splits:
    """The train / validation / test WindowShards of a benchmark and the windows used of each."""

    def __init__(self, config: ml_collections.ConfigDict) -> None:
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
        metadata = prepared_metadata(directory)
        channels = int(metadata["channels"])
        num_classes, class_names, target_names = 0, (), ()
        if config.task == "classification":
            if "label" not in features:
                raise UserError(f"{directory} has no `label` feature: {config.data.name} is not a classification dataset")
            num_classes = int(features["label"]["classLabel"]["numClasses"])
            names_file = directory / "label.labels.txt"
            class_names = (tuple(names_file.read_text().split()) if names_file.is_file()
                           else tuple(str(i) for i in range(num_classes)))  # fmt: skip
        else:
            k = int(train.specs["target"].shape[-1])
            names = metadata.get("target_names") or ()
            target_names = tuple(names) if len(names) == k else tuple(f"target_{i + 1}" for i in range(k))
        fingerprint = hashlib.sha256((directory / "dataset_info.json").read_bytes()).hexdigest()
        return DatasetInfo(
            name=config.data.name, directory=directory, task=config.task, window=window, channels=channels,
            num_classes=num_classes, class_names=class_names, target_names=target_names, fingerprint=fingerprint,
            split_sizes={key: int(len(self.indices[key])) for key in SPLIT_KEYS}, fs=metadata.get("fs"),
            channel_names=tuple(metadata["channel_names"]) if metadata.get("channel_names") else None,
        )  # fmt: skip

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
                            f"the real channel count in its metadata.json; re-prepare the dataset")
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


def segment_means(targets: np.ndarray, segments: int) -> np.ndarray:
    """(N, W, K) per-sample targets -> (N, S, K): the mean over each of S equal parts of the window."""
    n, w, k = targets.shape
    if w % segments:
        raise UserError(f"window of {w} samples does not split into {segments} equal segments")
    return targets.reshape(n, segments, w // segments, k).mean(axis=2)

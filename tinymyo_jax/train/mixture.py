"""The pretraining mixture, opened: what the trainer, its evaluators and benchmarks/validate_run.py share.

    names, sources, weights = open_sources(config, "train")     # one WindowShards per corpus
    order = validation_order(config, [len(s) for s in sources], weights)

A key of `config.data.mixture` is a prepared TFDS dataset, optionally with a builder config
("ninapro_db8/w1000"), read by data/source.dataset_key. The batch fields the trainer moves to
the devices are `BATCH_FIELDS`.
"""

from __future__ import annotations

import ml_collections
import numpy as np

from tinymyo_jax.data.pipeline import WindowSource, make_order
from tinymyo_jax.data.source import WindowShards, dataset_key
from tinymyo_jax.errors import UserError

BATCH_FIELDS = ("emg", "channel_mask")


def validation_order(config: ml_collections.ConfigDict, sizes: list[int], weights: list[float]):
    """The order of the validation batches: fixed by the run's seed, distinct from the training
    order, so every evaluation (and benchmarks/validate_run.py after the run) sees the same windows."""
    return make_order(sizes, weights, config.global_batch_size, config.seed + 7)


def open_sources(config: ml_collections.ConfigDict, split: str) -> tuple[list[str], list[WindowSource], list[float]]:
    """(sorted mixture names, their sources of `split`, their weights); a split without windows,
    or whose windows have no live channel, is a UserError."""
    names = sorted(config.data.mixture)  # weights are > 0 (train.config.check_config)
    sources = []
    for name in names:
        dataset, builder_config = dataset_key(name)
        sources.append(WindowShards(dataset, split, data_dir=config.data.data_dir or None, config=builder_config,
                                    fields=BATCH_FIELDS))
    for name, source in zip(names, sources):
        if len(source) == 0:
            raise UserError(f"dataset {name!r} split {split!r} has no windows")
        require_live_channels(name, split, source)
    return names, sources, [float(config.data.mixture[name]) for name in names]


def require_live_channels(name: str, split: str, source: WindowSource, samples: int = 256) -> None:
    """Refuse a split whose windows have no live channel (all-zero or dead recordings): it would
    train on nothing (loss 0 at every step). Checks up to `samples` evenly spaced windows."""
    indices = np.unique(np.linspace(0, len(source) - 1, min(samples, len(source))).astype(np.int64))
    masks = source.read_batch(indices)["channel_mask"]
    if not np.asarray(masks).any():
        raise UserError(f"dataset {name!r} split {split!r}: none of {len(indices)} windows checked has a live channel "
                        "(every channel_mask is False); see its prep_report.json for dead channels")

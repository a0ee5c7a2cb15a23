"""The trainer's validation of a finished pretraining run, on any dataset of its kind.

A run trained on a mixture reports one validation number over the mixture; benchmarks need it
per corpus. `validate_run` reloads the run's config and final checkpoint and calls the trainer's
own `evaluate` (train/evaluators.py) (same masks, loss terms and no-model baselines) on one dataset's split, so there
is one implementation of validation.
"""

from __future__ import annotations

import json
import math

import jax
import ml_collections
from flax import nnx

from tinymyo_jax import storage
from tinymyo_jax.data.pipeline import HostBatchReader
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.checkpoint import load_model_checkpoint
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train.evaluators import evaluate
from tinymyo_jax.train.mixture import open_sources, validation_order
from tinymyo_jax.train.step import make_eval_step


def run_config(workdir: storage.PathLike) -> ml_collections.ConfigDict:
    """The resolved config a pretraining run wrote to WORKDIR/config.json."""
    path = storage.path(workdir) / "config.json"
    if not storage.is_file(path):
        raise UserError(f"{workdir}: no config.json; is it a pretraining workdir?")
    return ml_collections.ConfigDict(json.loads(storage.read_text(path)))


def validate_run(workdir: storage.PathLike, dataset: str, *, split: str | None = None, max_batches: int = 0) -> dict[str, float]:
    """Validation metrics of the run in `workdir` (latest checkpoint) on `dataset` alone.

    Covers the split once: ceil(windows / global batch) batches of the run's global batch size
    (the last one topped up from a fresh pass, as the trainer's order does), at most
    `max_batches` when > 0. Returns the trainer's metric names (masked_loss, baseline_*...) and
    `windows`, the number of distinct windows of the split.
    """
    config = run_config(workdir)
    config.data.mixture = {dataset: 1.0}
    if split:
        config.data.eval_split = split
    model = load_model_checkpoint(storage.path(workdir) / "checkpoints")
    graphdef, params = nnx.split(model)
    params = nnx.to_pure_dict(params)
    mesh = mesh_lib.make_mesh(1)
    _, sources, weights = open_sources(config, config.data.eval_split)
    windows = len(sources[0])
    config.eval_batches = math.ceil(windows / config.global_batch_size)
    if max_batches > 0:
        config.eval_batches = min(config.eval_batches, max_batches)
    order = validation_order(config, [windows], weights)
    reader = HostBatchReader(sources, order, jax.process_index(), jax.process_count())
    eval_step = jax.jit(make_eval_step(graphdef, model.config, config))
    result = evaluate(eval_step, params, reader, config, mesh_lib.batch_sharding(mesh), model.config)
    return {**result["metrics"], "windows": windows}

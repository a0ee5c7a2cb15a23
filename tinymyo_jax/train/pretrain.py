"""Masked-reconstruction pretraining: one file, in the order a reader expects.

    tinymyo pretrain --config configs/pretrain/tinymyo.py --workdir runs/tinymyo

Stages: distributed set-up -> mesh -> input pipeline -> model & optimizer -> checkpoint restore
-> ahead-of-time compilation -> loop (train/loop.py: step, metrics, NaN check, checkpoints,
preemption; the validation and plots below are its evaluation callback) -> summary.
"""

from __future__ import annotations

import itertools
import json
import logging
import os

import jax
import ml_collections
import numpy as np
from flax import nnx

from tinymyo_jax import storage
from tinymyo_jax.data.pipeline import HostBatchReader, iterate_batches, make_order
from tinymyo_jax.data.source import dataset_dir, dataset_key, prepared_metadata
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.checkpoint import load_model_checkpoint, params_of, set_params
from tinymyo_jax.models.config import ModelConfig, from_run_config
from tinymyo_jax.models.summary import forward_flops
from tinymyo_jax.models.tinymyo import TinyMyo
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train.config import check_config
from tinymyo_jax.train.run_record import PRETRAINING_FIELDS, training_settings
from tinymyo_jax.train.workdir import dataset_fingerprint, start_run
from tinymyo_jax.train.loop import TrainLoop, jit_train_step
from tinymyo_jax.train.evaluators import Evaluators, RunContext, check_evals
from tinymyo_jax.train.metrics import peak_flops_per_device
from tinymyo_jax.train.mixture import BATCH_FIELDS, open_sources
from tinymyo_jax.train.optimizer import learning_rate_schedule, make_optimizer
from tinymyo_jax.train.step import make_train_step, reconstruction_gradients

log = logging.getLogger("tinymyo.pretrain")


# ----------------------------------------------------------------------------- set-up


def maybe_initialize_distributed() -> None:
    """Join a multi-process job when one is launched (our launchers set TINYMYO_* variables;
    on TPU pods and SLURM, JAX detects the cluster itself when TINYMYO_DISTRIBUTED=auto)."""
    coordinator = os.environ.get("TINYMYO_COORDINATOR")
    if coordinator:
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=int(os.environ["TINYMYO_NUM_PROCESSES"]),
            process_id=int(os.environ["TINYMYO_PROCESS_ID"]),
        )
    elif os.environ.get("TINYMYO_DISTRIBUTED") == "auto":
        jax.distributed.initialize()


def model_config_from(config: ml_collections.ConfigDict) -> ModelConfig:
    """The ModelConfig of a pretraining run; it carries config.data.normalization into the checkpoint."""
    try:
        return from_run_config(
            config, normalization=config.data.normalization, dropout=config.model.dropout,
            attention_dropout=config.model.attention_dropout, drop_path=config.model.drop_path, head="reconstruction",
        )  # fmt: skip
    except ValueError as err:  # an unknown preset, rope mode, normalisation, or shapes that do not fit
        raise UserError(f"config: {err}") from err


def mixture_directories(config: ml_collections.ConfigDict) -> dict:
    """{mixture key: its prepared dataset's directory}, in key order."""
    directories = {}
    for name in sorted(config.data.mixture):
        dataset, builder_config = dataset_key(name)
        directories[name] = dataset_dir(dataset, config.data.data_dir or None, builder_config)
    return directories


def mixture_rate(config: ml_collections.ConfigDict) -> float | None:
    """The sampling rate (Hz) of the windows of every dataset in the mixture, as their
    preparation recorded it; None when one is unknown (each file's own rate) or they differ."""
    rates = {prepared_metadata(directory).get("fs") for directory in mixture_directories(config).values()}
    return rates.pop() if len(rates) == 1 else None


def run_record(config: ml_collections.ConfigDict, model_config: ModelConfig) -> dict:
    """What a pretraining workdir is started with (train/workdir.py): a rerun must match."""
    data = {name: {"weight": float(config.data.mixture[name]), "fingerprint": dataset_fingerprint(directory)}
            for name, directory in mixture_directories(config).items()}  # fmt: skip
    model = json.loads(model_config.to_json())
    # the windows' rate follows from the data, which the fingerprints pin already; left out, a
    # workdir recorded before the field existed still resumes
    model.pop("input_rate_hz", None)
    return {"init": config.init_from, "model": model, "data": data,
            "seed": config.seed, "global_batch_size": config.global_batch_size,
            **training_settings(config, PRETRAINING_FIELDS)}  # optimizer, schedule, masking, loss


def pretraining_train_step(config: ml_collections.ConfigDict, mesh, graphdef, model_config: ModelConfig, optimizer,
                           schedule):  # fmt: skip
    """The un-jitted pretraining step: masked reconstruction's gradients (micro-batches spread
    over every device), then the optimizer's update."""
    micro_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, mesh_lib.BATCH_AXES))
    return make_train_step(reconstruction_gradients(graphdef, model_config, config, micro_sharding), optimizer, schedule)


def sharded_train_step(config: ml_collections.ConfigDict, mesh, graphdef, model_config: ModelConfig,
                       optimizer, schedule, state_sharding):
    """The jitted train step with the trainer's shardings (train/loop.py `jit_train_step`): state
    as `state_sharding`, batch split over every device, donated state. `pretrain` runs it;
    `tinymyo plan` compiles it for a TPU topology it does not have, so both see the same program."""
    step = pretraining_train_step(config, mesh, graphdef, model_config, optimizer, schedule)
    return jit_train_step(step, mesh, state_sharding, BATCH_FIELDS)


# ----------------------------------------------------------------------------- run


def pretrain(config: ml_collections.ConfigDict, workdir: storage.PathLike) -> dict:
    """Run (or resume) pretraining in `workdir`; returns the final metrics summary."""
    maybe_initialize_distributed()
    workdir = storage.path(workdir)
    is_main = jax.process_index() == 0
    # every check that needs no compilation, before anything in the workdir is written
    check_config(config)
    check_evals(config)
    # the checkpoint records the rate of the windows it learnt from (probe and fine-tune compare)
    model_config = model_config_from(config).replace(input_rate_hz=mixture_rate(config))
    start_run(workdir, run_record(config, model_config), config.workdir_mode, is_main=is_main)
    if is_main:
        storage.write_atomic(workdir / "config.json", config.to_json_best_effort(indent=2, sort_keys=True))

    # --- mesh
    mesh = mesh_lib.make_mesh(config.mesh.fsdp)
    data_sharding = mesh_lib.batch_sharding(mesh)

    # --- input pipeline
    names, train_sources, weights = open_sources(config, config.data.train_split)
    order = make_order([len(s) for s in train_sources], weights, config.global_batch_size, config.seed)
    reader = HostBatchReader(train_sources, order, jax.process_index(), jax.process_count())

    # --- model & optimizer
    model = TinyMyo(model_config, rngs=nnx.Rngs(params=config.seed))
    if config.init_from:
        # the encoder of a pretrained or imported checkpoint; the reconstruction head stays fresh
        initial = params_of(model)
        initial["encoder"] = params_of(load_model_checkpoint(config.init_from))["encoder"]
        try:
            set_params(model, initial)
        except (ValueError, TypeError) as err:
            raise UserError(f"init_from {config.init_from}: its encoder does not fit this model ({err})") from err
    graphdef, params = nnx.split(model)
    # pure nested dicts of arrays: the layout models/checkpoint.py stores and nnx.merge accepts
    params = nnx.to_pure_dict(params)
    optimizer = make_optimizer(config)
    schedule = learning_rate_schedule(config)

    loop = TrainLoop(
        workdir, name="pretrain", mesh=mesh, optimizer=optimizer, abstract_params=params, seed=config.seed,
        global_batch_size=config.global_batch_size, total_steps=config.total_steps,
        log_every_steps=config.log_every_steps, checkpoint_every_steps=config.checkpoint.every_steps,
        checkpoint_keep=config.checkpoint.keep, async_save=config.checkpoint.async_save,
        model_config_json=model_config.to_json(), run_config_json=config.to_json_best_effort(),
        fsdp_min_params=config.mesh.fsdp_min_params,
    )  # fmt: skip
    with loop:
        # --- checkpoint restore or fresh state
        restored = loop.restore()
        state = restored.state if restored is not None else loop.init_state(params)
        start_step = int(jax.device_get(state["step"]))

        # --- compile the step ahead of time, for the stored dtype (float16 windows travel at half the bytes)
        batches = iterate_batches(reader, start_step, config.total_steps,
                                  worker_count=config.data.worker_count, prefetch=config.data.prefetch)
        first_batch = next(batches, None)
        if first_batch is None:
            raise UserError(f"nothing to do: {workdir} is already at step {start_step} of total_steps {config.total_steps}")
        c, t = first_batch["emg"].shape[1:]
        if t % model_config.patch_size:
            raise UserError(f"prepared windows have {t} samples, not a multiple of the patch size {model_config.patch_size}")
        compiled = loop.compile(pretraining_train_step(config, mesh, graphdef, model_config, optimizer, schedule),
                                first_batch, BATCH_FIELDS)  # fmt: skip

        # --- evaluation: config.evals (train/evaluators.py), one callback of the loop
        evaluators = Evaluators(config, RunContext(config, graphdef, model_config, data_sharding, workdir, loop.writer,
                                                   is_main))  # fmt: skip
        peak, peak_source = peak_flops_per_device(config.peak_flops_per_device)
        summary = {"start_step": start_step, "peak_flops_per_device": peak, "peak_source": peak_source}

        def run_evaluations(done: int, state: dict, train_metrics: dict) -> bool:
            summary.update(evaluators.run_due(done, state["params"]))  # {evaluator name: its metrics}
            return False

        # --- loop
        result = loop.run(
            compiled, state, itertools.chain([first_batch], batches), evaluate=run_evaluations,
            eval_every_steps=evaluators.every_steps,
            flops_per_step=3 * forward_flops(model_config, c, t)["total"] * config.global_batch_size,
            peak_flops_per_device=peak, tokens_per_window=c * (t // model_config.patch_size),
        )  # fmt: skip
    summary.update({"end_step": result.end_step, "total_steps": config.total_steps,
                    # a preempted run's summary must not read like a finished one
                    "finished": result.end_step >= config.total_steps and not result.preempted,
                    "preempted": result.preempted, "train": result.train,
                    "median_step_time_s": float(np.median(result.step_times)) if result.step_times else None})
    if is_main:
        storage.write_atomic(workdir / "summary.json", json.dumps(summary, indent=2))
    return summary

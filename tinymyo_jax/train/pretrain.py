"""Masked-reconstruction pretraining: one file, in the order a reader expects.

    tinymyo pretrain --config configs/pretrain/tinymyo.py --workdir runs/tinymyo

Stages: distributed set-up -> mesh -> input pipeline -> model & optimizer -> sharding and
ahead-of-time compilation -> checkpoint restore -> loop (step, metrics, evaluation, plots,
checkpoints, preemption) -> final save.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from tinymyo_jax.data.pipeline import HostBatchReader, WindowSource, iterate_batches, make_order
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.checkpoint import load_model_checkpoint, params_of, set_params
from tinymyo_jax.models.config import ModelConfig, preset
from tinymyo_jax.models.objective import combine_loss_terms
from tinymyo_jax.models.summary import forward_flops
from tinymyo_jax.models.tinymyo import TinyMyo
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train.baselines import baseline_predictions
from tinymyo_jax.train.config import validate as validate_config
from tinymyo_jax.train.workdir import dataset_fingerprint, start_run
from tinymyo_jax.train.checkpointing import PreemptionFlag, RunCheckpointer, abstract_with_shardings
from tinymyo_jax.train.metrics import MetricsWriter, peak_flops_per_device
from tinymyo_jax.train.optimizer import learning_rate_schedule, make_optimizer
from tinymyo_jax.train.plots import plot_reconstruction
from tinymyo_jax.train.step import init_state, make_eval_step, make_train_step

log = logging.getLogger("tinymyo.pretrain")


class NonFiniteLossError(UserError):
    """The loss became NaN/Inf; the last good checkpoint is kept."""


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
    """The ModelConfig of a run; it carries config.data.normalization into the checkpoint."""
    overrides = dict(
        rope=config.model.rope, normalization=config.data.normalization, dropout=config.model.dropout,
        attention_dropout=config.model.attention_dropout, drop_path=config.model.drop_path,
        head="reconstruction", channel_embedding=config.model.get("channel_embedding", "none"),
    )
    for name in ("embed_dim", "depth", "num_heads"):
        if config.model[name]:
            overrides[name] = config.model[name]
    try:
        return preset(config.model.preset, **overrides)
    except ValueError as err:  # an unknown preset, rope mode, normalisation, or shapes that do not fit
        raise UserError(f"config: {err}") from err


def run_record(config: ml_collections.ConfigDict, model_config: ModelConfig) -> dict:
    """What a pretraining workdir is started with (train/workdir.py): a rerun must match."""
    from tinymyo_jax.data.source import dataset_dir

    data = {}
    for name, weight in sorted(config.data.mixture.items()):
        dataset, _, builder_config = name.partition("/")
        directory = dataset_dir(dataset, config.data.data_dir or None, builder_config or None)
        data[name] = {"weight": float(weight), "fingerprint": dataset_fingerprint(directory)}
    return {"init": config.init_from, "model": json.loads(model_config.to_json()), "data": data,
            "seed": config.seed, "global_batch_size": config.global_batch_size}


def validation_order(config: ml_collections.ConfigDict, sizes: list[int], weights: list[float]):
    """The order of the validation batches: fixed by the run's seed, distinct from the training
    order, so every evaluation (and train/validate.py after the run) sees the same windows."""
    return make_order(sizes, weights, config.global_batch_size, config.seed + 7)


def open_sources(config: ml_collections.ConfigDict, split: str) -> tuple[list[str], list[WindowSource], list[float]]:
    from tinymyo_jax.data.source import WindowShards

    names = sorted(config.data.mixture)  # weights are > 0 (train.config.validate)
    # a mixture key is a TFDS name, optionally with a builder config: "ninapro_db8/w1000"
    sources = []
    for name in names:
        dataset, _, builder_config = name.partition("/")
        sources.append(WindowShards(dataset, split, data_dir=config.data.data_dir or None, config=builder_config or None,
                                    fields=("emg", "channel_mask")))
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


def _global_batch(host_batch: dict, sharding, global_batch: int) -> dict:
    out = {}
    for name in ("emg", "channel_mask"):
        local = host_batch[name]
        out[name] = jax.make_array_from_process_local_data(sharding, local, (global_batch, *local.shape[1:]))
    return out


def sharded_train_step(config: ml_collections.ConfigDict, mesh, graphdef, model_config: ModelConfig,
                       optimizer, schedule, state_sharding):
    """The jitted train step with the trainer's shardings: state as `state_sharding`, batch split
    over every device, donated state. `pretrain` runs it; `tinymyo plan` compiles it for a TPU
    topology it does not have, so both see the same program."""
    data_sharding = mesh_lib.batch_sharding(mesh)
    micro_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, mesh_lib.BATCH_AXES))
    return jax.jit(
        make_train_step(graphdef, model_config, optimizer, schedule, config, micro_sharding),
        in_shardings=(state_sharding, {"emg": data_sharding, "channel_mask": data_sharding}),
        out_shardings=(state_sharding, mesh_lib.replicated(mesh)),
        donate_argnums=0,
    )


# ----------------------------------------------------------------------------- run


def pretrain(config: ml_collections.ConfigDict, workdir: Path) -> dict:
    """Run (or resume) pretraining in `workdir`; returns the final metrics summary."""
    maybe_initialize_distributed()
    workdir = Path(workdir).absolute()
    is_main = jax.process_index() == 0
    # every check that needs no compilation, before anything in the workdir is written
    validate_config(config)
    model_config = model_config_from(config)
    start_run(workdir, run_record(config, model_config), config.workdir_mode, is_main=is_main)
    if is_main:
        (workdir / "config.json").write_text(config.to_json_best_effort(indent=2, sort_keys=True))

    # --- mesh
    mesh = mesh_lib.make_mesh(config.mesh.fsdp)
    data_sharding = mesh_lib.batch_sharding(mesh)
    if config.global_batch_size % (jax.device_count()):
        raise UserError(f"global_batch_size {config.global_batch_size} must be divisible by the {jax.device_count()} devices")

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
    abstract_state = jax.eval_shape(lambda p: init_state(p, optimizer), params)
    state_sharding = mesh_lib.state_shardings(abstract_state, mesh, config.mesh.fsdp_min_params)

    # --- checkpoint restore or fresh state
    checkpointer = RunCheckpointer(
        workdir / "checkpoints", every_steps=config.checkpoint.every_steps,
        keep=config.checkpoint.keep, async_save=config.checkpoint.async_save,
    )
    restored = checkpointer.restore_newest_intact(
        lambda step: checkpointer.restore(step, abstract_with_shardings(abstract_state, state_sharding)))
    if restored is not None:
        latest, (state, data_state) = restored
        if data_state["seed"] != config.seed:
            raise UserError(f"{workdir} was trained with seed {data_state['seed']}, the config says {config.seed}")
        log.info("resumed from step %d", latest)
    else:
        state = jax.jit(lambda p: init_state(p, optimizer), out_shardings=state_sharding)(params)
    start_step = int(jax.device_get(state["step"]))

    # --- compile the step ahead of time
    train_step = sharded_train_step(config, mesh, graphdef, model_config, optimizer, schedule, state_sharding)
    batches = iterate_batches(reader, start_step, config.total_steps,
                              worker_count=config.data.worker_count, prefetch=config.data.prefetch)
    first_batch = next(batches, None)
    if first_batch is None:
        raise UserError(f"nothing to do: {workdir} is already at step {start_step} of total_steps {config.total_steps}")
    c, t = first_batch["emg"].shape[1:]
    if t % model_config.patch_size:
        raise UserError(f"prepared windows have {t} samples, not a multiple of the patch size {model_config.patch_size}")
    # compiled for the stored dtype (float16 windows travel to the device at half the bytes)
    abstract_batch = {
        name: jax.ShapeDtypeStruct((config.global_batch_size, *first_batch[name].shape[1:]), first_batch[name].dtype,
                                   sharding=data_sharding)
        for name in ("emg", "channel_mask")
    }
    compile_start = time.perf_counter()
    compiled = train_step.lower(abstract_with_shardings(abstract_state, state_sharding), abstract_batch).compile()
    compile_s = time.perf_counter() - compile_start
    memory = compiled.memory_analysis()
    if is_main:
        print(f"compiled the train step in {compile_s:.1f} s on {jax.device_count()} {jax.devices()[0].platform} device(s), "
              f"{jax.process_count()} process(es); mesh {dict(mesh.shape)}", flush=True)
        if memory is not None:
            print(f"  per-device memory: arguments {memory.argument_size_in_bytes / 2**20:.1f} MiB, "
                  f"temporaries {memory.temp_size_in_bytes / 2**20:.1f} MiB", flush=True)

    # --- evaluation data: a fixed set of validation batches
    eval_step = jax.jit(make_eval_step(graphdef, model_config, config))
    _, eval_sources, eval_weights = open_sources(config, config.data.eval_split)
    eval_order = validation_order(config, [len(s) for s in eval_sources], eval_weights)
    eval_reader = HostBatchReader(eval_sources, eval_order, jax.process_index(), jax.process_count())

    # --- loop
    flops_per_step = 3 * forward_flops(model_config, c, t)["total"] * config.global_batch_size
    peak, peak_source = peak_flops_per_device(config.peak_flops_per_device)
    tokens_per_window = c * (t // model_config.patch_size)
    writer = MetricsWriter(workdir, enabled=is_main)
    preemption = PreemptionFlag().install()
    run_config_json = config.to_json_best_effort()
    summary = {"start_step": start_step, "peak_flops_per_device": peak, "peak_source": peak_source}

    def save(step: int, force: bool) -> None:
        checkpointer.save(step, state, seed=config.seed, model_config_json=model_config.to_json(),
                          run_config_json=run_config_json, force=force)

    batches = itertools.chain([first_batch], batches)
    progress = _progress(start_step, config.total_steps, enabled=is_main)
    step_times: list[float] = []
    last = {}
    step = start_step
    try:
        for step in range(start_step, config.total_steps):
            host_batch = next(batches)
            step_start = time.perf_counter()
            state, metrics = compiled(state, _global_batch(host_batch, data_sharding, config.global_batch_size))
            metrics = jax.device_get(metrics)  # one sync per step: a NaN stops the run before it is saved
            seconds = time.perf_counter() - step_start
            if not all(math.isfinite(float(v)) for v in metrics.values()):
                raise NonFiniteLossError(
                    f"non-finite loss at step {step} ({ {k: float(v) for k, v in metrics.items()} }); "
                    f"the last good checkpoint in {checkpointer.directory} is kept"
                )
            if step > start_step:  # the first step of a process includes warm-up
                step_times.append(seconds)
            done = step + 1
            last = {k: float(v) for k, v in metrics.items()}
            if done % config.log_every_steps == 0 or done == config.total_steps:
                recent = float(np.median(step_times[-config.log_every_steps:])) if step_times else seconds
                windows_per_s = config.global_batch_size / recent
                throughput = {
                    "step_time_s": recent,
                    "windows_per_s": windows_per_s,
                    "tokens_per_s": windows_per_s * tokens_per_window,
                    "mfu": flops_per_step / recent / (peak * jax.device_count()),
                }
                writer.write(done, {**last, **throughput})
                progress.set_postfix(loss=f"{last['loss']:.4f}", masked=f"{last['masked_loss']:.4f}",
                                     win_s=f"{windows_per_s:.1f}")
            progress.update(1)
            if done % config.eval_every_steps == 0 or done == config.total_steps:
                evaluation = evaluate(eval_step, state["params"], eval_reader, config, data_sharding, model_config)
                writer.write(done, evaluation["metrics"], prefix="validation")
                summary["validation"] = evaluation["metrics"]
                if is_main and (done % config.plot_every_steps == 0 or done == config.total_steps):
                    png = plot_reconstruction(
                        *evaluation["example"], workdir / "plots" / f"reconstruction_step{done:07d}.png",
                        title=f"step {done}: validation window, masked loss {evaluation['metrics']['masked_loss']:.4f}",
                        channel_mask=evaluation["example_channel_mask"],
                    )
                    writer.write_image(done, "validation/reconstruction", png)
            preempted = preemption.requested or checkpointer.reached_preemption(done)
            save(done, force=preempted or done == config.total_steps)
            if preempted:
                print(f"preemption notice: saved step {done}, exiting", flush=True)
                break
    finally:
        progress.close()
        checkpointer.close()
        writer.close()
        preemption.uninstall()
    summary.update({"end_step": step + 1 if config.total_steps > start_step else start_step, "train": last,
                    "median_step_time_s": float(np.median(step_times)) if step_times else None})
    if is_main:
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def evaluate(eval_step, params, eval_reader: HostBatchReader, config, data_sharding, model_config: ModelConfig) -> dict:
    """Validation loss over the fixed batches, the no-model baselines, and a plot example."""
    totals = None
    baseline_sums: dict[str, float] = {}
    baseline_count = 0.0
    example = None
    for index in range(config.eval_batches):
        host_batch = eval_reader(index)
        batch = _global_batch(host_batch, data_sharding, config.global_batch_size)
        terms, reconstruction, sample_mask, x = eval_step(params, batch, jnp.asarray(index))
        terms = jax.device_get(terms)
        totals = terms if totals is None else {k: totals[k] + terms[k] for k in totals}
        # baselines on this process's rows (its addressable shards), summed over processes below
        x_local = np.concatenate([np.asarray(s.data) for s in x.addressable_shards])
        mask_local = np.concatenate([np.asarray(s.data) for s in sample_mask.addressable_shards])
        channel_local = host_batch["channel_mask"] if config.data.use_channel_mask else np.ones(x_local.shape[:2], bool)
        token_local = mask_local.reshape(*mask_local.shape[:2], -1, model_config.patch_size).any(-1).reshape(len(x_local), -1)
        weight = mask_local & channel_local[:, :, None]
        baseline_count += float(weight.sum())
        for name, predicted in baseline_predictions(x_local, token_local, model_config.patch_size, channel_local).items():
            error = np.abs(predicted - x_local)
            smooth = np.where(error < 1.0, 0.5 * error**2, error - 0.5)
            baseline_sums[name] = baseline_sums.get(name, 0.0) + float((smooth * weight).sum())
        if example is None:
            rec_local = np.concatenate([np.asarray(s.data) for s in reconstruction.addressable_shards])
            example = (x_local[0], rec_local[0], mask_local[0])
            example_channels = channel_local[0]
    metrics = {k: float(v) for k, v in combine_loss_terms(totals, config.loss.visible_weight).items()}
    names = sorted(baseline_sums)
    sums = np.asarray([baseline_sums[n] for n in names] + [baseline_count])
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        sums = np.asarray(multihost_utils.process_allgather(sums)).reshape(-1, len(sums)).sum(0)
    for name, value in zip(names, sums[:-1]):
        metrics[f"baseline_{name}_masked_loss"] = float(value / max(sums[-1], 1.0))
    return {"metrics": metrics, "example": example, "example_channel_mask": example_channels}


def _progress(start: int, total: int, *, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=start, disable=not enabled, unit="step", dynamic_ncols=True, desc="pretrain")

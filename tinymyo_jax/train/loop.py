"""The one training loop: pretraining (train/pretrain.py) and fine-tuning (train/finetune.py)
both run through `TrainLoop`, each supplying its train step, its host batches and its
evaluation callback.

    with TrainLoop(workdir, name="pretrain", mesh=mesh, ...) as loop:
        restored = loop.restore()                        # newest intact checkpoint, or None
        state = restored.state if restored else loop.init_state(params)
        compiled = loop.compile(train_step, first_host_batch)
        result = loop.run(compiled, state, host_batches, evaluate=..., eval_every_steps=...)

What the loop owns, so that every objective gets it the same way:
- sharding: state placed with `mesh.state_shardings` (data parallel, FSDP as a switch), each
  host's share of the global batch made into global arrays split over every device (so
  fine-tuning runs on a multi-device mesh and multi-host like pretraining);
- one `jax.jit` of the step with those shardings and the state donated, compiled ahead of time
  with its per-device memory printed;
- checkpoints (train/checkpointing.py): the newest intact one restored, with a training's extra
  items (fine-tuning's early-stopping state and best parameters); saves every
  `checkpoint_every_steps`, after evaluations when asked, at the end and on preemption;
- a non-finite loss stops the run naming its step, before anything from that step on is saved;
- timing, throughput, MetricsWriter (metrics.jsonl + TensorBoard) and a progress bar.

Input and compute overlap: the step is dispatched asynchronously and the next step's batch is
read and put on the devices while it runs; metrics come back to the host only on log,
evaluation and save steps. A device-side flag, updated inside the step, records whether every
metric so far was finite (and the first step that was not); it is read at each of those steps,
so a NaN is caught at the latest before the next save or evaluation.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Iterator, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from tqdm.auto import tqdm

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train.checkpointing import PreemptionFlag, RunCheckpointer, abstract_with_shardings
from tinymyo_jax.train.metrics import MetricsWriter
from tinymyo_jax.train.step import init_state

TrainStep = Callable[[dict, dict], tuple[dict, dict]]
# (step just completed, state after it, that step's train metrics) -> True to stop training
EvaluateFn = Callable[[int, dict, dict[str, float]], bool]
# () -> (JSON items, array items) saved with every checkpoint
ExtraItemsFn = Callable[[], tuple[Mapping[str, Any], Mapping[str, Any]]]


class NonFiniteLossError(UserError):
    """The loss became NaN/Inf; the last good checkpoint is kept."""


@dataclasses.dataclass
class Restored:
    step: int
    state: dict
    extras: dict[str, Any]  # the extra items asked for in `restore`


@dataclasses.dataclass
class LoopResult:
    state: dict
    start_step: int
    end_step: int
    train: dict[str, float]  # the last fetched train metrics
    step_times: list[float]  # mean step time of each stretch between host syncs (s), warm-up excluded
    preempted: bool
    stopped: bool  # the evaluation callback asked to stop (early stopping)


def initial_health() -> dict[str, jax.Array]:
    """The device-side record of non-finite metrics: all finite so far, no bad step."""
    return {"finite": jnp.ones((), jnp.bool_), "first_bad_step": jnp.full((), -1, jnp.int32)}


def with_health(train_step: TrainStep) -> Callable:
    """(state, batch, health) -> (state, metrics, health): `train_step` plus the non-finite record."""

    def step(state, batch, health):
        before = state["step"]
        state, metrics = train_step(state, batch)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(metrics)]))
        newly_bad = health["finite"] & ~finite
        return state, metrics, {
            "finite": health["finite"] & finite,
            "first_bad_step": jnp.where(newly_bad, before.astype(jnp.int32), health["first_bad_step"]),
        }

    return step


def jit_train_step(train_step: TrainStep, mesh: Mesh, state_sharding, fields: Sequence[str]):
    """The loop's jitted step: state as `state_sharding` (donated), every batch field split over
    every device along its first axis, metrics and the health record replicated. `tinymyo plan`
    compiles the same program for a topology it does not have."""
    data = mesh_lib.batch_sharding(mesh)
    replicated = mesh_lib.replicated(mesh)
    return jax.jit(
        with_health(train_step),
        in_shardings=(state_sharding, {name: data for name in fields}, replicated),
        out_shardings=(state_sharding, replicated, replicated),
        donate_argnums=(0, 2),
    )


def global_batch(host_batch: Mapping[str, np.ndarray], fields: Sequence[str], sharding, global_batch_size: int) -> dict:
    """This process's rows of the global batch -> global jax.Arrays split over every device."""
    out = {}
    for name in fields:
        local = np.asarray(host_batch[name])
        out[name] = jax.make_array_from_process_local_data(sharding, local, (global_batch_size, *local.shape[1:]))
    return out


class TrainLoop:
    """Checkpoints, sharding, compilation and the step loop of one training run in `workdir`.

    Args:
      workdir: the run directory; checkpoints go to WORKDIR/checkpoints, metrics to
        WORKDIR/metrics.jsonl and WORKDIR/tensorboard.
      name: the progress bar's label ("pretrain", "finetune").
      mesh: the device mesh (train/mesh.py).
      optimizer: its state is part of the train state.
      abstract_params: the parameters' shapes (jax.eval_shape or real arrays).
      seed: the run's seed; a checkpoint written with another seed refuses to resume.
      global_batch_size: rows of a global batch (divisible by the device count).
      total_steps: the loop runs steps [start, total_steps).
      log_every_steps: train metrics are fetched, checked and written every this many steps.
      checkpoint_every_steps: periodic saves (orbax's interval rule, which also saves the first
        step of a run without checkpoints; 0: none). The end and preemption always save.
      save_at_evaluations: also save after every evaluation (fine-tuning's best parameters).
      model_config_json, run_config_json: stored in every checkpoint.
    """

    def __init__(self, workdir: storage.PathLike, *, name: str, mesh: Mesh, optimizer: optax.GradientTransformation,
                 abstract_params, seed: int, global_batch_size: int, total_steps: int, log_every_steps: int,
                 checkpoint_every_steps: int, checkpoint_keep: int, async_save: bool, model_config_json: str,
                 run_config_json: str, save_at_evaluations: bool = False, fsdp_min_params: int = 1 << 16) -> None:  # fmt: skip
        if global_batch_size % jax.device_count():
            raise UserError(f"the global batch of {global_batch_size} windows must be divisible by the "
                            f"{jax.device_count()} devices")  # fmt: skip
        self.workdir = storage.path(workdir)  # a gs:// workdir stays a URL
        self.name, self.mesh, self.optimizer = name, mesh, optimizer
        self.seed, self.global_batch_size, self.total_steps = seed, global_batch_size, total_steps
        self.log_every_steps, self.checkpoint_every_steps = log_every_steps, checkpoint_every_steps
        self.save_at_evaluations = save_at_evaluations
        self.model_config_json, self.run_config_json = model_config_json, run_config_json
        self.is_main = jax.process_index() == 0
        self.data_sharding = mesh_lib.batch_sharding(mesh)
        abstract = jax.eval_shape(lambda p: init_state(p, optimizer), abstract_params)
        self.state_sharding = mesh_lib.state_shardings(abstract, mesh, fsdp_min_params)
        self.abstract_state = abstract_with_shardings(abstract, self.state_sharding)
        self.checkpointer = RunCheckpointer(self.workdir / "checkpoints", every_steps=max(1, checkpoint_every_steps),
                                            keep=checkpoint_keep, async_save=async_save)  # fmt: skip
        self.writer = MetricsWriter(self.workdir, enabled=self.is_main)
        self.preemption = PreemptionFlag().install()
        self.fields: tuple[str, ...] = ()

    # ------------------------------------------------------------------------- state

    def restore(self, *, json_items: Sequence[str] = (), array_items: Mapping[str, Any] | None = None) -> Restored | None:
        """The newest intact checkpoint (damaged newer ones moved aside), or None for a fresh run.

        json_items: names of extra JSON items to read; array_items: name -> abstract target
        (ShapeDtypeStructs with shardings, e.g. `self.abstract_state["params"]`)."""
        restored = self.checkpointer.restore_newest_intact(
            lambda step: self.checkpointer.restore(step, self.abstract_state, json_items=json_items, array_items=array_items))
        if restored is None:
            return None
        step, (state, data_state, extras) = restored
        if data_state["seed"] != self.seed:
            raise UserError(f"{self.workdir} was trained with seed {data_state['seed']}, the config says {self.seed}")
        print(f"resumed from step {step}", flush=True)
        return Restored(step, state, extras)

    def init_state(self, params) -> dict:
        """A fresh train state for `params`, placed with the state shardings."""
        optimizer = self.optimizer
        return jax.jit(lambda p: init_state(p, optimizer), out_shardings=self.state_sharding)(params)

    def save(self, state: dict, step: int, extra_items: ExtraItemsFn | None = None) -> None:
        json_items, array_items = extra_items() if extra_items is not None else ({}, {})
        self.checkpointer.save(step, state, seed=self.seed, model_config_json=self.model_config_json,
                               run_config_json=self.run_config_json, force=True, json_items=json_items,
                               array_items=array_items)  # fmt: skip

    # ------------------------------------------------------------------------- compile

    def compile(self, train_step: TrainStep, host_batch: Mapping[str, np.ndarray], fields: Sequence[str]):
        """`train_step` jitted with the loop's shardings and compiled ahead of time for the
        dtypes and shapes of `host_batch` (this process's rows of a global batch); prints the
        compile time and per-device memory."""
        self.fields = tuple(fields)
        abstract_batch = {
            name: jax.ShapeDtypeStruct((self.global_batch_size, *np.shape(host_batch[name])[1:]),
                                       np.asarray(host_batch[name]).dtype, sharding=self.data_sharding)
            for name in self.fields
        }  # fmt: skip
        abstract_health = jax.eval_shape(initial_health)
        start = time.perf_counter()
        compiled = jit_train_step(train_step, self.mesh, self.state_sharding, self.fields).lower(
            self.abstract_state, abstract_batch, abstract_health).compile()
        seconds = time.perf_counter() - start
        memory = compiled.memory_analysis()
        if self.is_main:
            print(f"compiled the {self.name} step in {seconds:.1f} s on {jax.device_count()} "
                  f"{jax.devices()[0].platform} device(s), {jax.process_count()} process(es); mesh {dict(self.mesh.shape)}",
                  flush=True)  # fmt: skip
            if memory is not None:
                print(f"  per-device memory: arguments {memory.argument_size_in_bytes / 2**20:.1f} MiB, "
                      f"temporaries {memory.temp_size_in_bytes / 2**20:.1f} MiB", flush=True)
        return compiled

    # ------------------------------------------------------------------------- loop

    def run(self, compiled, state: dict, host_batches: Iterator[Mapping[str, np.ndarray]], *,
            evaluate: EvaluateFn | None = None, eval_every_steps: int = 0, extra_items: ExtraItemsFn | None = None,
            flops_per_step: float | None = None, peak_flops_per_device: float | None = None,
            tokens_per_window: int | None = None) -> LoopResult:  # fmt: skip
        """Train from `state` to total_steps (or a stop); `host_batches` yields this process's rows
        of the global batch of each step from the state's step on.

        evaluate(done, state, train_metrics) runs every `eval_every_steps` and after the last
        step; it returns True to stop (early stopping). extra_items() gives the extra items of
        each save. With flops_per_step and peak_flops_per_device the logged throughput has MFU,
        with tokens_per_window tokens/s.
        """
        start_step = int(jax.device_get(state["step"]))
        self.writer.forget_after(start_step)  # rows a killed run logged after its last checkpoint
        total = self.total_steps
        health = jax.device_put(initial_health(), mesh_lib.replicated(self.mesh))
        device_batches = (global_batch(b, self.fields, self.data_sharding, self.global_batch_size) for b in host_batches)
        progress = _progress(start_step, total, enabled=self.is_main, desc=self.name)
        step_times: list[float] = []
        last: dict[str, float] = {}
        # the clock runs between host syncs; the first step of a process (compilation warm-up)
        # is timed alone and used only until another stretch is timed
        timer, untimed, first_seconds, logged_stretches = None, 0, None, 0
        step, preempted, stopped = start_step, False, False
        batch = next(device_batches, None) if start_step < total else None
        try:
            for step in range(start_step, total):
                if batch is None:
                    raise UserError(f"the input ended before step {step} of {total}")
                dispatched = time.perf_counter()
                state, metrics, health = compiled(state, batch, health)
                done = step + 1
                # the input of the next step is read and placed while this one runs
                batch = next(device_batches, None) if done < total else None
                logged = done % self.log_every_steps == 0 or done == total
                evaluated = evaluate is not None and eval_every_steps > 0 and (done % eval_every_steps == 0 or done == total)
                preempted = self.preemption.requested or self.checkpointer.reached_preemption(done)
                periodic = self.checkpoint_every_steps > 0 and self.checkpointer.should_save(done)
                saving = periodic or done == total or preempted or (evaluated and self.save_at_evaluations)
                if logged or evaluated or saving or timer is None:
                    last = {k: float(v) for k, v in jax.device_get(metrics).items()}  # waits for this step
                    self._check_finite(health, step)  # before any save or evaluation of this state
                    now = time.perf_counter()
                    if timer is None:
                        first_seconds = now - dispatched
                    else:  # steps since the last sync, this one included
                        step_times.append((now - timer) / (untimed + 1))
                    timer, untimed = now, 0
                    if logged:
                        recent = step_times[logged_stretches:] or step_times[-1:] or [first_seconds]
                        logged_stretches = len(step_times)
                        self._log(done, last, float(np.median(recent)), flops_per_step, peak_flops_per_device,
                                  tokens_per_window, progress)  # fmt: skip
                else:
                    untimed += 1
                progress.update(1)
                if evaluated:
                    stopped = bool(evaluate(done, state, last))
                if saving:
                    self.save(state, done, extra_items)
                if evaluated or saving:  # time spent evaluating and saving is not step time
                    timer, untimed = time.perf_counter(), 0
                if preempted:
                    print(f"preemption notice: saved step {done}, exiting", flush=True)
                    break
                if stopped:
                    break
        finally:
            progress.close()
        end_step = step + 1 if total > start_step else start_step
        return LoopResult(state, start_step, end_step, last, step_times, preempted, stopped)

    def _check_finite(self, health: dict, step: int) -> None:
        health = jax.device_get(health)
        if not bool(health["finite"]):
            bad = int(health["first_bad_step"])
            raise NonFiniteLossError(f"non-finite loss at step {bad} (checked at step {step}); the last good checkpoint "
                                     f"in {self.checkpointer.directory} is kept")  # fmt: skip

    def _log(self, done: int, metrics: dict[str, float], seconds: float, flops_per_step, peak, tokens_per_window,
             progress) -> None:  # fmt: skip
        windows_per_s = self.global_batch_size / seconds
        throughput = {"step_time_s": seconds, "windows_per_s": windows_per_s}
        if tokens_per_window:
            throughput["tokens_per_s"] = windows_per_s * tokens_per_window
        if flops_per_step and peak:
            throughput["mfu"] = flops_per_step / seconds / (peak * jax.device_count())
        self.writer.write(done, {**metrics, **throughput})
        postfix = {k: f"{metrics[k]:.4f}" for k in ("loss", "masked_loss") if k in metrics}
        postfix["win_s"] = f"{windows_per_s:.1f}"
        progress.set_postfix(postfix)

    # ------------------------------------------------------------------------- clean-up

    def close(self) -> None:
        try:
            self.checkpointer.close()
        finally:
            self.writer.close()
            self.preemption.uninstall()

    def __enter__(self) -> "TrainLoop":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _progress(start: int, total: int, *, enabled: bool, desc: str):
    return tqdm(total=total, initial=start, disable=not enabled, unit="step", dynamic_ncols=True, desc=desc)

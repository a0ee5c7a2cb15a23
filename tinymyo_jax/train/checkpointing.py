"""Run checkpoints: params, optimizer state, step, data-iterator state and configs.

Layout (one orbax CheckpointManager under WORKDIR/checkpoints): each step holds
  params        the model's nnx.Param pytree (same item as models/checkpoint.py, so
                `load_model_checkpoint(WORKDIR/checkpoints)` rebuilds the trained model)
  model_config  ModelConfig as JSON
  train_state   {"opt_state", "step"}
  data          {"step", "seed"}: the data order is a function of these alone
  run_config    the full resolved run config
  ...           a training's extra items (fine-tuning: `early_stopping`, `best_params`)
Saves are atomic (orbax writes a temporary directory and renames it), so a run killed at any
moment restarts from the last complete step. Restores take abstract targets carrying the
*current* shardings, so a checkpoint written on 2 devices resumes on 1 (or on 2 processes).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from typing import Any, Callable, Mapping, Sequence, TypeVar

import jax
import orbax.checkpoint as ocp

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.checkpoint import CONFIG_ITEM, PARAMS_ITEM

T = TypeVar("T")
DAMAGED_FOLDER = "damaged_checkpoints"


# A run stopped by SIGTERM (after saving) exits with the status of a process SIGTERM ended, so
# schedulers see "terminated" and `tinymyo pretrain ... && tinymyo export ...` stops there.
PREEMPTED_EXIT_STATUS = 128 + signal.SIGTERM  # 143


class PreemptionFlag:
    """Set by SIGTERM (and by orbax's multi-host preemption notice); checked once per step."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def install(self) -> "PreemptionFlag":
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def uninstall(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


class RunCheckpointer:
    def __init__(self, directory: storage.PathLike, *, every_steps: int, keep: int, async_save: bool) -> None:
        self.directory = storage.path(directory)  # orbax writes gs:// through TensorStore
        self.manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                save_interval_steps=max(1, every_steps),
                max_to_keep=keep,
                enable_async_checkpointing=async_save,
            ),
        )

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def save(self, step: int, state: dict, *, seed: int, model_config_json: str, run_config_json: str, force: bool = False,
             json_items: Mapping[str, Any] | None = None, array_items: Mapping[str, Any] | None = None) -> bool:
        """Save if the interval (or `force`) says so; returns whether a save started.

        json_items / array_items: a training's own extra items (fine-tuning's early-stopping
        state as JSON, its best parameters as arrays), saved beside the standard ones."""
        items = {
            PARAMS_ITEM: ocp.args.StandardSave(state["params"]),
            CONFIG_ITEM: ocp.args.JsonSave(json.loads(model_config_json)),
            "train_state": ocp.args.StandardSave({"opt_state": state["opt_state"], "step": state["step"]}),
            "data": ocp.args.JsonSave({"step": int(step), "seed": int(seed)}),
            "run_config": ocp.args.JsonSave(json.loads(run_config_json)),
        }
        items.update({name: ocp.args.JsonSave(value) for name, value in (json_items or {}).items()})
        items.update({name: ocp.args.StandardSave(value) for name, value in (array_items or {}).items()})
        return self.manager.save(step, args=ocp.args.Composite(**items), force=force)

    def restore(self, step: int, abstract_state: dict, *, json_items: Sequence[str] = (),
                array_items: Mapping[str, Any] | None = None) -> tuple[dict, dict[str, Any], dict[str, Any]]:
        """(state, data state, extra items) of `step`: the state and the `array_items` placed
        with the shardings of their abstract targets (ShapeDtypeStructs), the `json_items` as
        dicts."""
        items = {
            PARAMS_ITEM: ocp.args.StandardRestore(abstract_state["params"]),
            "train_state": ocp.args.StandardRestore({"opt_state": abstract_state["opt_state"], "step": abstract_state["step"]}),
            "data": ocp.args.JsonRestore(),
        }
        items.update({name: ocp.args.JsonRestore() for name in json_items})
        items.update({name: ocp.args.StandardRestore(abstract) for name, abstract in (array_items or {}).items()})
        restored = self.manager.restore(step, args=ocp.args.Composite(**items))
        train_state = restored["train_state"]
        state = {"params": restored[PARAMS_ITEM], "opt_state": train_state["opt_state"], "step": train_state["step"]}
        extras = {name: dict(restored[name]) for name in json_items}
        extras.update({name: restored[name] for name in (array_items or {})})
        return state, dict(restored["data"]), extras

    def restore_newest_intact(self, restore: Callable[[int], T]) -> tuple[int, T] | None:
        """(step, restore(step)) for the newest step that restores; None when there is none.

        A step that fails to restore (a partly deleted or truncated checkpoint: orbax and
        TensorStore raise many kinds of errors) is skipped with a message, and once an older
        step restores, the damaged newer ones are moved to WORKDIR/damaged_checkpoints/ (kept,
        not deleted) so that the run can save those steps again. When no step restores,
        nothing is moved and the error names the newest step's problem.
        """
        steps = sorted(self.manager.all_steps(), reverse=True)
        damaged: list[int] = []
        first_error: Exception | None = None
        for step in steps:
            try:
                with _stderr_dropped_on_failure():
                    result = restore(step)
            except Exception as err:  # noqa: BLE001 - any failure to read a step means it is damaged
                first_error = first_error or err
                damaged.append(step)
                print(f"checkpoint step {step} in {self.directory} cannot be restored "
                      f"({type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''})", flush=True)
                continue
            if damaged:
                aside = storage.mkdir(self.directory.parent / DAMAGED_FOLDER)
                for bad in damaged:
                    name, n = str(bad), 1
                    while storage.exists(aside / name):  # the same step damaged in an earlier run
                        name, n = f"{bad}.{n}", n + 1
                    storage.move(self.directory / str(bad), aside / name)
                self.manager.reload()
                print(f"fell back to step {step}, the newest intact checkpoint; damaged step(s) "
                      f"{', '.join(map(str, damaged))} moved to {aside}", flush=True)
            return step, result
        if steps:
            raise UserError(f"no checkpoint in {self.directory} can be restored (newest, step {steps[0]}: "
                            f"{type(first_error).__name__}); use --config.workdir_mode=fresh or another --workdir")
        return None

    def should_save(self, step: int) -> bool:
        """Whether the save interval asks for `step` (orbax's rule: every `every_steps`, and the
        first step a run reaches without any checkpoint yet)."""
        return self.manager.should_save(step)

    def reached_preemption(self, step: int) -> bool:
        return self.manager.reached_preemption(step)

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


@contextlib.contextmanager
def _stderr_dropped_on_failure(settle_s: float = 1.0):
    """Hold back what is written to fd 2 while the block runs; pass it on if the block succeeds.

    A failed orbax restore leaves TensorStore reads in flight whose callbacks, once orbax has
    closed its event loop, print dozens of "Event loop is closed" tracebacks from C++ threads:
    noise after the one line that says which step was damaged. On failure they are dropped
    (after `settle_s` for the stragglers)."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            time.sleep(settle_s)
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if not failed:
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))


def abstract_with_shardings(tree, shardings):
    return jax.tree.map(lambda leaf, sh: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sh), tree, shardings)

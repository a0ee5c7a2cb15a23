"""Run checkpoints: params, optimizer state, step, data-iterator state and configs.

Layout (one orbax CheckpointManager under WORKDIR/checkpoints): each step holds
  params        the model's nnx.Param pytree (same item as models/checkpoint.py, so
                `load_model_checkpoint(WORKDIR/checkpoints)` rebuilds the trained model)
  model_config  ModelConfig as JSON
  train_state   {"opt_state", "step"}
  data          {"step", "seed"}: the data order is a function of these alone
  run_config    the full resolved run config
Saves are atomic (orbax writes a temporary directory and renames it), so a run killed at any
moment restarts from the last complete step. Restores take abstract targets carrying the
*current* shardings, so a checkpoint written on 2 devices resumes on 1 (or on 2 processes).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from tinymyo_jax.models.checkpoint import CONFIG_ITEM, PARAMS_ITEM


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
    def __init__(self, directory: Path, *, every_steps: int, keep: int, async_save: bool) -> None:
        self.directory = Path(directory).absolute()
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

    def save(self, step: int, state: dict, *, seed: int, model_config_json: str, run_config_json: str, force: bool = False) -> bool:
        """Save if the interval (or `force`) says so; returns whether a save started."""
        args = ocp.args.Composite(
            **{
                PARAMS_ITEM: ocp.args.StandardSave(state["params"]),
                CONFIG_ITEM: ocp.args.JsonSave(json.loads(model_config_json)),
                "train_state": ocp.args.StandardSave({"opt_state": state["opt_state"], "step": state["step"]}),
                "data": ocp.args.JsonSave({"step": int(step), "seed": int(seed)}),
                "run_config": ocp.args.JsonSave(json.loads(run_config_json)),
            }
        )
        return self.manager.save(step, args=args, force=force)

    def restore(self, step: int, abstract_state: dict) -> tuple[dict, dict[str, Any]]:
        """State (placed with the shardings of `abstract_state`'s ShapeDtypeStructs) and data state."""
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                **{
                    PARAMS_ITEM: ocp.args.StandardRestore(abstract_state["params"]),
                    "train_state": ocp.args.StandardRestore(
                        {"opt_state": abstract_state["opt_state"], "step": abstract_state["step"]}
                    ),
                    "data": ocp.args.JsonRestore(),
                }
            ),
        )
        train_state = restored["train_state"]
        state = {"params": restored[PARAMS_ITEM], "opt_state": train_state["opt_state"], "step": train_state["step"]}
        return state, dict(restored["data"])

    def reached_preemption(self, step: int) -> bool:
        return self.manager.reached_preemption(step)

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.wait_until_finished()
        self.manager.close()


def abstract_with_shardings(tree, shardings):
    return jax.tree.map(lambda leaf, sh: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=sh), tree, shardings)

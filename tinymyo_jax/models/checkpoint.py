"""Model checkpoints: an orbax CheckpointManager directory with `params` and `model_config`.

This is the layout every stage reads (`tinymyo import-torch` writes it; pretraining adds the
optimizer, data-iterator and run-config items to the same manager). Params are the model's
`nnx.Param` state as a pure nested dict; the ModelConfig is stored as JSON so a checkpoint
rebuilds its own module.
"""

from __future__ import annotations

import json

import jax
import orbax.checkpoint as ocp
from flax import nnx

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.checkpoint_checks import check_model_config, checkpoint_directory, damage_as_user_error
from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.tinymyo import TinyMyo

PARAMS_ITEM = "params"
CONFIG_ITEM = "model_config"


def params_of(model: TinyMyo) -> dict:
    """The model's parameters as a pure nested dict (what orbax stores)."""
    return nnx.to_pure_dict(nnx.state(model, nnx.Param))


def set_params(model: TinyMyo, params: dict) -> None:
    """Overwrite the model's parameters from a pure nested dict of the same structure."""
    state = nnx.state(model, nnx.Param)
    nnx.replace_by_pure_dict(state, params)
    nnx.update(model, state)


def save_model_checkpoint(directory: storage.PathLike, model: TinyMyo, *, step: int = 0) -> storage.epath.Path:
    """Write params + config as step `step` of an orbax CheckpointManager at `directory`."""
    directory = storage.path(directory)
    with ocp.CheckpointManager(directory) as manager:
        manager.save(
            step,
            args=ocp.args.Composite(
                **{
                    PARAMS_ITEM: ocp.args.StandardSave(params_of(model)),
                    CONFIG_ITEM: ocp.args.JsonSave(json.loads(model.config.to_json())),
                }
            ),
        )
        manager.wait_until_finished()
    return directory / str(step)


def load_model_checkpoint(directory: storage.PathLike, *, step: int | None = None) -> TinyMyo:
    """Rebuild the model a checkpoint directory holds (latest step unless `step` is given)."""
    directory = checkpoint_directory(directory)  # a run's workdir or its checkpoints/ alike
    if not storage.is_dir(directory):
        raise UserError(f"{directory}: no such checkpoint directory")
    with ocp.CheckpointManager(directory) as manager:
        step = manager.latest_step() if step is None else step
        if step is None:
            raise UserError(f"{directory}: holds no checkpoint steps")
        if step not in manager.all_steps():
            raise UserError(f"{directory} has no step {step}; it holds steps {sorted(manager.all_steps())}")
        with damage_as_user_error(directory / str(step) / CONFIG_ITEM, "model config"):
            config_dict = manager.restore(step, args=ocp.args.Composite(**{CONFIG_ITEM: ocp.args.JsonRestore()}))[CONFIG_ITEM]
            config = ModelConfig.from_json(json.dumps(config_dict))
        check_model_config(config, str(directory / str(step) / CONFIG_ITEM))  # before any allocation
        abstract_model = nnx.eval_shape(lambda: TinyMyo(config, rngs=nnx.Rngs(params=0)))
        target = jax.tree.map(
            lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype), params_of(abstract_model)
        )
        with damage_as_user_error(directory / str(step) / PARAMS_ITEM, "parameters"):
            params = manager.restore(
                step, args=ocp.args.Composite(**{PARAMS_ITEM: ocp.args.StandardRestore(target)})
            )[PARAMS_ITEM]
    model = TinyMyo(config, rngs=nnx.Rngs(params=0))
    set_params(model, params)
    return model

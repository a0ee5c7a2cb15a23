"""The trainer's own jitted pretraining step at a benchmark's shape, for benchmarks/train_step.py
and benchmarks/matmul_dtype.py: the `tinymyo` pretraining config at the command line's batch,
micro-batch and window shape, with the XLA:CPU tricks the CPU configs set, its initial state and
one batch of random windows."""

from __future__ import annotations

import argparse

import jax
import ml_collections
import numpy as np
from flax import nnx

from tinymyo_jax.models.tinymyo import TinyMyo
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train.config import base_config
from tinymyo_jax.train.loop import initial_health
from tinymyo_jax.train.optimizer import learning_rate_schedule, make_optimizer
from tinymyo_jax.train.pretrain import model_config_from, sharded_train_step
from tinymyo_jax.train.step import init_state


def add_shape_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--micro-batch", type=int, default=1, help="gradient-accumulation micro-batch (0 = whole batch)")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--samples", type=int, default=1000)


def step_config(args: argparse.Namespace, cpu_tricks: bool = True) -> ml_collections.ConfigDict:
    """The pretraining config of the benchmarked step (the published model, dropout 0.1)."""
    config = base_config()
    config.global_batch_size = args.batch
    config.micro_batch_size = args.micro_batch
    config.total_steps = 1000
    # the XLA:CPU tricks (models/encoder.materialise_cotangent), as the CPU configs set them
    config.xla_cpu_tricks = jax.default_backend() == "cpu" and cpu_tricks
    return config


def trainer_step(config: ml_collections.ConfigDict, args: argparse.Namespace) -> dict:
    """{"step": the trainer's jitted step (train/loop.py: shardings, donation, the non-finite
    record), "state", "batch", "health", "model_config"}."""
    model_config = model_config_from(config)
    graphdef, params = nnx.split(TinyMyo(model_config, rngs=nnx.Rngs(params=0)))
    params = nnx.to_pure_dict(params)
    optimizer = make_optimizer(config)
    mesh = mesh_lib.make_mesh(1)
    data = mesh_lib.batch_sharding(mesh)
    abstract_state = jax.eval_shape(lambda p: init_state(p, optimizer), params)
    state_sharding = mesh_lib.state_shardings(abstract_state, mesh, config.mesh.fsdp_min_params)
    state = jax.device_put(init_state(params, optimizer), state_sharding)
    step = sharded_train_step(config, mesh, graphdef, model_config, optimizer, learning_rate_schedule(config), state_sharding)
    rng = np.random.default_rng(0)
    batch = {
        "emg": jax.device_put(rng.normal(size=(args.batch, args.channels, args.samples)).astype(np.float16), data),
        "channel_mask": jax.device_put(np.ones((args.batch, args.channels), bool), data),
    }
    return {"step": step, "state": state, "batch": batch, "health": initial_health(), "model_config": model_config}

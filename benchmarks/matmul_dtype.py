"""The trainer's pretraining step with `matmul_dtype` float32 against bfloat16, in one process.

Both steps (the trainer's own jitted step, `train.pretrain.sharded_train_step`, published shape,
dropout 0.1, micro-batches of 1 on CPU) are compiled first and then timed in alternating rounds,
with the dense matmul rate of both kernels — f32 x f32 -> f32 and bf16 x bf16 -> f32 — measured
between rounds, so load on a shared machine hits both alike. Prints one JSON object: per dtype
the median step time, windows/s, model GFLOP/s (3 x analytic forward FLOPs) and the first and
last loss of the same batch sequence; the speed-up; both matmul rates (the best of the run).

  .venv/bin/python benchmarks/matmul_dtype.py --batch 32 --rounds 4
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from same_run import load_average, matmul_rates
from tinymyo_jax.models.summary import forward_flops
from tinymyo_jax.models.tinymyo import TinyMyo
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train.config import base_config
from tinymyo_jax.train.loop import initial_health
from tinymyo_jax.train.optimizer import learning_rate_schedule, make_optimizer
from tinymyo_jax.train.pretrain import model_config_from, sharded_train_step
from tinymyo_jax.train.step import init_state

DTYPES = ("float32", "bfloat16")


def compiled_step(matmul_dtype: str, args: argparse.Namespace) -> dict:
    """The trainer's step for `matmul_dtype`, compiled and run once: its state and batch."""
    config = base_config()
    config.global_batch_size, config.micro_batch_size = args.batch, args.micro_batch
    config.total_steps = 1000
    config.xla_cpu_tricks = jax.default_backend() == "cpu"  # as the CPU configs set it
    config.matmul_dtype = matmul_dtype
    model_config = model_config_from(config)
    graphdef, params = nnx.split(TinyMyo(model_config, rngs=nnx.Rngs(params=0)))
    params = nnx.to_pure_dict(params)
    optimizer = make_optimizer(config)
    mesh = mesh_lib.make_mesh(1)
    abstract_state = jax.eval_shape(lambda p: init_state(p, optimizer), params)
    state_sharding = mesh_lib.state_shardings(abstract_state, mesh, config.mesh.fsdp_min_params)
    state = jax.device_put(init_state(params, optimizer), state_sharding)
    step = sharded_train_step(config, mesh, graphdef, model_config, optimizer, learning_rate_schedule(config), state_sharding)
    rng = np.random.default_rng(0)
    data = mesh_lib.batch_sharding(mesh)
    batch = {"emg": jax.device_put(rng.normal(size=(args.batch, args.channels, args.samples)).astype(np.float16), data),
             "channel_mask": jax.device_put(np.ones((args.batch, args.channels), bool), data)}  # fmt: skip
    health = initial_health()
    start = time.perf_counter()
    compiled = step.lower(state, batch, health).compile()
    compile_s = time.perf_counter() - start
    state, metrics, health = compiled(state, batch, health)
    return {"compiled": compiled, "state": state, "batch": batch, "health": health, "model_config": model_config,
            "compile_s": compile_s, "first_loss": float(metrics["loss"]), "times": []}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--micro-batch", type=int, default=1, help="gradient-accumulation micro-batch (0 = whole batch)")
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds, one step of each dtype per round")
    args = parser.parse_args()

    runs = {dtype: compiled_step(dtype, args) for dtype in DTYPES}
    rates = {"float32": [], "bfloat16_in_float32_out": []}
    for _ in range(args.rounds):
        for run in runs.values():
            start = time.perf_counter()
            run["state"], metrics, run["health"] = run["compiled"](run["state"], run["batch"], run["health"])
            jax.block_until_ready(metrics)
            run["times"].append(time.perf_counter() - start)
            run["last_loss"] = float(metrics["loss"])
        rates["float32"] += matmul_rates(jnp.float32, (1024,))
        rates["bfloat16_in_float32_out"] += matmul_rates(jnp.bfloat16, (1024,), result_dtype=jnp.float32)
    step_flops = 3 * forward_flops(runs["float32"]["model_config"], args.channels, args.samples)["total"] * args.batch
    result = {
        "benchmark": "matmul_dtype",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "device": jax.devices()[0].device_kind,
        "batch": args.batch,
        "micro_batch": args.micro_batch or args.batch,
        "load_average_at_end": load_average(),
        "matmul_gflop_per_s_best": {kernel: max(r) / 1e9 for kernel, r in rates.items()},
    }
    for dtype, run in runs.items():
        seconds = statistics.median(run["times"])
        result[dtype] = {"step_s_median": seconds, "step_s_all": run["times"], "windows_per_s": args.batch / seconds,
                         "model_gflop_per_s": step_flops / seconds / 1e9, "compile_s": run["compile_s"],
                         "first_loss": run["first_loss"], "last_loss": run["last_loss"]}  # fmt: skip
    result["bfloat16_speedup"] = result["float32"]["step_s_median"] / result["bfloat16"]["step_s_median"]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

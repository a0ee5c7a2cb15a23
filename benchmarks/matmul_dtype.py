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

from same_run import load_average, matmul_rates
from tinymyo_jax.models.summary import forward_flops
from trainer_step import add_shape_arguments, step_config, trainer_step

DTYPES = ("float32", "bfloat16")


def compiled_step(matmul_dtype: str, args: argparse.Namespace) -> dict:
    """The trainer's step for `matmul_dtype`, compiled and run once: its state and batch."""
    config = step_config(args)
    config.matmul_dtype = matmul_dtype
    run = trainer_step(config, args)
    start = time.perf_counter()
    run["compiled"] = run["step"].lower(run["state"], run["batch"], run["health"]).compile()
    run["compile_s"] = time.perf_counter() - start
    run["state"], metrics, run["health"] = run["compiled"](run["state"], run["batch"], run["health"])
    return {**run, "first_loss": float(metrics["loss"]), "times": []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shape_arguments(parser)
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

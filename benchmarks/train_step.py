"""Throughput of the full pretraining step (forward, loss, backward, AdamW) at the published shape,
against the reference PyTorch step and this machine's matmul rate, measured in the same run.

Prints one JSON object: windows/s of the jit-compiled step (median of timed steps after
compilation and a warm-up step), the model FLOP/s it achieves (3 x analytic forward FLOPs),
that rate as a fraction of this machine's dense matmul FLOP/s measured in the same run, XLA's
temporary buffer size and the process's peak memory. The matmul rate is measured before,
between and after the timed rounds, at two sizes, each the median of a second of products; the
highest of those medians is the denominator, so a momentarily slow machine cannot inflate the
fraction. The step is the trainer's own jitted step (`train.pretrain.sharded_train_step`:
`train.step.make_train_step` with masked reconstruction, wrapped by train/loop.py) with the
`tinymyo` pretraining config. With `--torch-python`, the reference PyTorch pretraining step
(benchmarks/reference_torch.py: dropout 0.1, AdamW, clipping, same batch) is timed in rounds
alternating with ours, and the ratio is reported.

  .venv/bin/python benchmarks/train_step.py --torch-python /path/to/torch-venv/bin/python
  .venv/bin/python benchmarks/train_step.py --batch 512 --micro-batch 0 --dtype bfloat16   # GPU
  .venv/bin/python benchmarks/train_step.py --matmul-dtype bfloat16   # bf16 products, f32 results
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp

from same_run import load_average, matmul_rates, peak_rss_mib, reference_pytorch
from tinymyo_jax.models.summary import forward_flops
from tinymyo_jax.train.metrics import PEAK_FLOPS_BY_KIND
from trainer_step import add_shape_arguments, step_config, trainer_step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shape_arguments(parser)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--matmul-dtype", default="float32", choices=["float32", "bfloat16"],
                        help="config.matmul_dtype: bfloat16 = the model's products from bf16 operands into "
                             "f32 results, the rest float32 (models/matmul.py); the matmul rate is then measured "
                             "for that form too")  # fmt: skip
    parser.add_argument("--steps", type=int, default=3, help="timed steps of ours per round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of ours and the reference")
    parser.add_argument("--reference-steps", type=int, default=2, help="timed reference steps per round")
    parser.add_argument("--torch-python", default=None,
                        help="a Python with CPU torch: time the reference PyTorch step in the same run")
    parser.add_argument("--no-dropout", action="store_true", help="dropout, attention dropout and drop path off")
    parser.add_argument("--attention-dropout", type=float, default=None, help="override the attention dropout rate")
    parser.add_argument("--no-cpu-tricks", action="store_true", help="config.xla_cpu_tricks off on CPU (on by default there)")
    args = parser.parse_args()

    config = step_config(args, cpu_tricks=not args.no_cpu_tricks)
    config.compute_dtype = args.dtype
    config.matmul_dtype = args.matmul_dtype
    if args.no_dropout:
        config.model.dropout = config.model.attention_dropout = config.model.drop_path = 0.0
    if args.attention_dropout is not None:
        config.model.attention_dropout = args.attention_dropout
    built = trainer_step(config, args)
    step, state, batch, health, model_config = (built[k] for k in ("step", "state", "batch", "health", "model_config"))
    matmul_dtype = jnp.bfloat16 if args.dtype == "bfloat16" else jnp.float32
    matmul_sizes = (1024, 2048) if jax.default_backend() == "cpu" else (4096, 8192)
    matmul = matmul_rates(matmul_dtype, matmul_sizes)
    # the bf16-operand, f32-result kernel the model's products use with --matmul-dtype bfloat16
    mixed = args.matmul_dtype == "bfloat16"
    mixed_matmul = matmul_rates(jnp.bfloat16, matmul_sizes, result_dtype=jnp.float32) if mixed else []
    start = time.perf_counter()
    compiled = step.lower(state, batch, health).compile()
    compile_s = time.perf_counter() - start
    memory = compiled.memory_analysis()
    state, metrics, health = compiled(state, batch, health)
    jax.block_until_ready(metrics)
    times, reference = [], []
    for _ in range(args.rounds):
        for _ in range(args.steps):
            start = time.perf_counter()
            state, metrics, health = compiled(state, batch, health)
            jax.block_until_ready(metrics)
            times.append(time.perf_counter() - start)
        measured = reference_pytorch(args.torch_python, "train-step", batch=args.batch, steps=args.reference_steps,
                                     channels=args.channels, samples=args.samples)
        if measured:
            reference.append(measured)
        matmul += matmul_rates(matmul_dtype, matmul_sizes)
        if mixed:
            mixed_matmul += matmul_rates(jnp.bfloat16, matmul_sizes, result_dtype=jnp.float32)
    seconds = statistics.median(times)
    step_flops = 3 * forward_flops(model_config, args.channels, args.samples)["total"] * args.batch
    model_flops_per_s = step_flops / seconds
    kind = jax.devices()[0].device_kind
    best_matmul = max(matmul)
    peak = next((v for k, v in PEAK_FLOPS_BY_KIND.items() if k.lower() in kind.lower()), None)
    windows_per_s = args.batch / seconds
    reference_rate = statistics.median(r["windows_per_s"] for r in reference) if reference else None
    print(json.dumps({
        "benchmark": "train_step",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "model": "tinymyo (8 blocks, dim 192, 3 heads)",
        "input": [args.channels, args.samples],
        "batch": args.batch,
        "micro_batch": args.micro_batch or args.batch,
        "dtype": args.dtype,
        "matmul_dtype": args.matmul_dtype,
        "xla_cpu_tricks": bool(config.xla_cpu_tricks),
        "dropout": {k: float(config.model[k]) for k in ("dropout", "attention_dropout", "drop_path")},
        "device": kind,
        "platform": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": load_average(),
        "compile_s": compile_s,
        "step_s_median": seconds,
        "step_s_all": times,
        "windows_per_s": windows_per_s,
        "reference_pytorch_windows_per_s": reference_rate,
        "reference_pytorch_all_windows_per_s": [r["windows_per_s"] for r in reference],
        "reference_pytorch_peak_rss_mib": max((r["peak_rss_mib"] for r in reference), default=None),
        "ours_over_reference": windows_per_s / reference_rate if reference_rate else None,
        "model_gflop_per_step": step_flops / 1e9,
        "model_gflop_per_s": model_flops_per_s / 1e9,
        "matmul_sizes": list(matmul_sizes),
        "matmul_gflop_per_s_all": [r / 1e9 for r in matmul],
        "measured_matmul_gflop_per_s": best_matmul / 1e9,
        "fraction_of_measured_matmul": model_flops_per_s / best_matmul,
        # with --matmul-dtype bfloat16: the same against the bf16-operand, f32-result kernel's rate
        "measured_bf16_f32_matmul_gflop_per_s": max(mixed_matmul) / 1e9 if mixed else None,
        "fraction_of_measured_bf16_f32_matmul": model_flops_per_s / max(mixed_matmul) if mixed else None,
        "mfu_vs_datasheet_peak": model_flops_per_s / peak if peak else None,
        "xla_temp_mib": memory.temp_size_in_bytes / 2**20 if memory is not None else None,
        "peak_rss_mib": peak_rss_mib(),
        "final_loss": float(metrics["loss"]),
    }, indent=2))


if __name__ == "__main__":
    main()

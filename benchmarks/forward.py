"""Forward-pass throughput of the jit-compiled TinyMyo at the published shape, against the
reference PyTorch TinyMyo and this machine's matmul rate, measured in the same run.

Prints one JSON object. Per batch size: windows/s of `model(x)` on the whole batch (the median
of every timed call after a compile; each round an untimed call, then calls for at least
`--min-seconds`), the model GFLOP/s that is, its fraction
of the dense matmul rate measured in the same run (the highest of the medians at 1024² and
2048², before and after), XLA's temporary buffer size and the process's peak memory; with
`--torch-python`, the reference PyTorch forward at the same batch (benchmarks/reference_torch.py
in that Python, eval mode, `torch.inference_mode`), its windows/s and peak memory, and the
ratio ours / reference. The two are timed in alternating rounds, so both see the same machine.

  .venv/bin/python benchmarks/forward.py --torch-python /path/to/torch-venv/bin/python
  .venv/bin/python benchmarks/forward.py --batch-sizes 1 8 64 --rounds 3 --dtype bfloat16
  .venv/bin/python benchmarks/forward.py --matmul-dtypes float32 bfloat16   # bf16 products, f32 results

`--micro-batches 1` also runs each batch as sequential micro-batches (`map_over_batch`), the
workaround from before attention ran in cache-sized blocks (encoder.attend).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from same_run import load_average, matmul_rates, peak_rss_mib, reference_pytorch
from tinymyo_jax.models.config import preset
from tinymyo_jax.models.matmul import MATMUL_DTYPES, set_matmul_dtype
from tinymyo_jax.models.summary import forward_flops
from tinymyo_jax.models.tinymyo import build_model, map_over_batch


def compile_forward(batch: int, channels: int, samples: int, rope: str, dtype: str, micro_batch: int | None,
                    matmul_dtype: str = "float32"):  # fmt: skip
    """(timed call, its arguments, XLA's temporary bytes) of the jitted forward."""
    model = set_matmul_dtype(build_model(preset("tinymyo", rope=rope)), matmul_dtype)
    graphdef, state = nnx.split(model)
    state = jax.tree.map(lambda a: a.astype(dtype), state)
    forward = jax.jit(lambda s, x: map_over_batch(lambda xb: nnx.merge(graphdef, s)(xb), x, micro_batch=micro_batch))
    x = jax.random.normal(jax.random.key(0), (batch, channels, samples), dtype=dtype)
    start = time.perf_counter()
    compiled = forward.lower(state, x).compile()
    compile_s = time.perf_counter() - start
    memory = compiled.memory_analysis()
    temp_mib = memory.temp_size_in_bytes / 2**20 if memory is not None else None
    compiled(state, x).block_until_ready()  # warm-up
    return compiled, (state, x), compile_s, temp_mib


def time_calls(compiled, arguments, repeats: int, min_seconds: float) -> list[float]:
    """Durations of at least `repeats` calls that together last at least `min_seconds`, after an
    untimed call. Why both: on the 2-core VMs the first calls after the reference's subprocess or
    the matmul probe run up to 2x slower (the batch-1 forward measured 139 ms a call over 3
    calls a round, 71 ms over 30; docs/model.md, session 13), so a round of 3 calls at batch 1
    (0.2 s) measured the machine waking up, not the model."""
    compiled(*arguments).block_until_ready()
    times = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        compiled(*arguments).block_until_ready()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rope", default="time", choices=["time", "reference", "none"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed calls of ours per round, at least; the reference makes as many calls as ours did")
    parser.add_argument("--min-seconds", type=float, default=2.0,
                        help="timed calls of ours per round last at least this long (more calls at small batches)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of ours and the reference")
    parser.add_argument("--torch-python", default=None,
                        help="a Python with CPU torch: time the reference PyTorch TinyMyo in the same run")
    parser.add_argument("--torch-threads", type=int, default=os.cpu_count(),
                        help="threads of the reference (torch.set_num_threads); 1 on a crowded machine, where "
                             "its OpenMP threads wait for each other")
    parser.add_argument(
        "--micro-batches", type=int, nargs="+", default=[0],
        help="also run each batch as sequential micro-batches of this size (0 = whole batch at once)",
    )
    parser.add_argument("--matmul-dtypes", nargs="+", default=["float32"], choices=MATMUL_DTYPES,
                        help="run the model with each matmul_dtype (models/matmul.py: bfloat16 = bf16 operands, f32 "
                             "results); bfloat16 rows report their largest difference from float32's outputs")  # fmt: skip
    args = parser.parse_args()
    config = preset("tinymyo", rope=args.rope)
    gflop = forward_flops(config, args.channels, args.samples)["total"] / 1e9
    matmul_dtype = jnp.bfloat16 if args.dtype == "bfloat16" else jnp.float32
    matmul = matmul_rates(matmul_dtype)
    results = []
    for batch in args.batch_sizes:
        micro = [m or None for m in sorted(set(args.micro_batches)) if not (m and m >= batch)]
        variants = [(m, md) for m in micro for md in dict.fromkeys(args.matmul_dtypes)]
        runs = {v: compile_forward(batch, args.channels, args.samples, args.rope, args.dtype, *v) for v in variants}
        outputs = {v: np.asarray(compiled(*arguments), np.float64) for v, (compiled, arguments, _, _) in runs.items()}
        times = {v: [] for v in variants}
        reference = []
        for _ in range(args.rounds):
            calls = args.repeats
            for v, (compiled, arguments, _, _) in runs.items():
                round_times = time_calls(compiled, arguments, args.repeats, args.min_seconds)
                times[v] += round_times
                calls = max(calls, len(round_times))
            measured = reference_pytorch(args.torch_python, "forward", batch=batch, repeats=calls,
                                         channels=args.channels, samples=args.samples, threads=args.torch_threads)
            if measured:
                reference.append(measured)
        reference_rate = statistics.median(r["windows_per_s"] for r in reference) if reference else None
        for (m, md), (_, _, compile_s, temp_mib) in runs.items():
            seconds = statistics.median(times[(m, md)])
            plain = outputs.get((m, "float32"))
            results.append({
                "batch": batch,
                "micro_batch": m,
                "matmul_dtype": md,
                "max_abs_diff_from_float32": float(np.abs(outputs[(m, md)] - plain).max()) if plain is not None else None,
                "windows_per_s": batch / seconds,
                "ms_per_batch": 1e3 * seconds,
                "gflop_per_s": gflop * batch / seconds,
                "xla_temp_mib": temp_mib,
                "compile_s": compile_s,
                "timed_calls": len(times[(m, md)]),
                "reference_pytorch_windows_per_s": reference_rate,
                "reference_pytorch_all_windows_per_s": [r["windows_per_s"] for r in reference],
                "reference_pytorch_peak_rss_mib": max((r["peak_rss_mib"] for r in reference), default=None),
                "reference_pytorch_threads": reference[0]["threads"] if reference else None,
                "ours_over_reference": batch / seconds / reference_rate if reference_rate else None,
            })
        del runs
    matmul += matmul_rates(matmul_dtype)
    for result in results:
        result["fraction_of_measured_matmul"] = result["gflop_per_s"] * 1e9 / max(matmul)
    print(json.dumps({
        "benchmark": "forward",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "model": "tinymyo",
        "input": [args.channels, args.samples],
        "rope": args.rope,
        "dtype": args.dtype,
        "gflop_per_window": gflop,
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "jax": jax.__version__,
        "load_average_at_end": load_average(),
        "matmul_gflop_per_s": [r / 1e9 for r in matmul],
        "measured_matmul_gflop_per_s": max(matmul) / 1e9,
        "peak_rss_mib": peak_rss_mib(),
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()

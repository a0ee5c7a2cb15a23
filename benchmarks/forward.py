"""Forward-pass throughput of the jit-compiled TinyMyo at the published shape.

Prints one JSON object: windows/s per batch size (median of timed repeats after a compile and
a warm-up call), the analytic GFLOP per window and the achieved GFLOP/s, and the device.

  .venv/bin/python benchmarks/forward.py                      # batch 1 and 64, 16 x 1000
  .venv/bin/python benchmarks/forward.py --batch-sizes 1 8 64 --repeats 5 --dtype bfloat16

Each batch runs whole and, where smaller, as sequential micro-batches (`--micro-batches`):
on CPU attention's (B, heads, N, N) logits leave the caches at large batches.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp
from flax import nnx

from tinymyo_jax.models.config import preset
from tinymyo_jax.models.summary import forward_flops
from tinymyo_jax.models.tinymyo import build_model, map_over_batch


def measure(batch: int, channels: int, samples: int, rope: str, dtype: str, repeats: int, micro_batch: int | None) -> dict:
    model = build_model(preset("tinymyo", rope=rope))
    graphdef, state = nnx.split(model)
    state = jax.tree.map(lambda a: a.astype(dtype), state)
    forward = jax.jit(lambda s, x: map_over_batch(lambda xb: nnx.merge(graphdef, s)(xb), x, micro_batch=micro_batch))
    x = jax.random.normal(jax.random.key(0), (batch, channels, samples), dtype=dtype)
    start = time.perf_counter()
    compiled = forward.lower(state, x).compile()
    compile_s = time.perf_counter() - start
    compiled(state, x).block_until_ready()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compiled(state, x).block_until_ready()
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    gflop = forward_flops(model.config, channels, samples)["total"] / 1e9
    return {
        "batch": batch,
        "micro_batch": micro_batch,
        "windows_per_s": batch / seconds,
        "ms_per_batch": 1e3 * seconds,
        "gflop_per_s": gflop * batch / seconds,
        "compile_s": compile_s,
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 64])
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--rope", default="time", choices=["time", "reference", "none"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--micro-batches", type=int, nargs="+", default=[0, 1],
        help="also run each batch as sequential micro-batches of this size (0 = whole batch at once)",
    )
    args = parser.parse_args()
    config = preset("tinymyo", rope=args.rope)
    results = [
        measure(b, args.channels, args.samples, args.rope, args.dtype, args.repeats, m or None)
        for b in args.batch_sizes
        for m in sorted(set(args.micro_batches))
        if not (m and m >= b)  # a micro-batch as large as the batch is the whole-batch run
    ]
    print(json.dumps({
        "benchmark": "forward",
        "model": "tinymyo",
        "input": [args.channels, args.samples],
        "rope": args.rope,
        "dtype": args.dtype,
        "gflop_per_window": forward_flops(config, args.channels, args.samples)["total"] / 1e9,
        "device": str(jax.devices()[0].device_kind),
        "platform": jax.default_backend(),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "jax": jax.__version__,
        "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()

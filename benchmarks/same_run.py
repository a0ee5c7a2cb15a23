"""What benchmarks/forward.py and benchmarks/train_step.py measure beside the model, in the same
run: this machine's dense matmul rate, the process's peak memory, the machine's load, and the
reference PyTorch TinyMyo (benchmarks/reference_torch.py, run with another Python that has torch).

Why in the same run: this project's machine is a shared VM whose speed moves by tens of percent
from minute to minute, so only ratios measured side by side mean anything.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp

from tinymyo_jax.train.metrics import measure_matmul_flops

REFERENCE_SCRIPT = Path(__file__).with_name("reference_torch.py")


def matmul_rates(dtype=jnp.float32, sizes: tuple[int, ...] = (1024, 2048), result_dtype=None) -> list[float]:
    """Dense matmul FLOP/s at each size: the median of at least a second of products."""
    return [measure_matmul_flops(size, dtype=dtype, min_seconds=1.0, result_dtype=result_dtype) for size in sizes]


def peak_rss_mib() -> float:
    """This process's peak resident memory so far (MiB; Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def reference_pytorch(torch_python: str | None, what: str, **options) -> dict | None:
    """One measurement of the reference PyTorch TinyMyo (`reference_torch.py WHAT --OPTION
    VALUE ...`, which reports its own peak memory) in a subprocess of `torch_python`, or None
    without one."""
    if not torch_python:
        return None
    command = [torch_python, str(REFERENCE_SCRIPT), what]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"the reference PyTorch run failed ({' '.join(command)}):\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])

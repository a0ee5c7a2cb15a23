"""Step metrics: throughput, model-FLOPs utilisation, and where they are written.

MFU = analytic model FLOPs per second / the device's peak. Training FLOPs are 3× the forward
matmul FLOPs (backward ≈ 2× forward), the usual convention. Peaks are dense bf16 (GPU/TPU)
from the vendors' data sheets; on CPU there is no honest data-sheet number, so the peak is
this machine's measured dense float32 matmul rate (`measure_matmul_flops`).
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from tinymyo_jax import storage

# dense bf16 peak FLOP/s per device, by substring of jax's device_kind
PEAK_FLOPS_BY_KIND = {
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "L4": 121e12,
    "TPU v6": 918e12,
    "TPU v5p": 459e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v4": 275e12,
}


def measure_matmul_flops(size: int = 1024, repeats: int = 5, dtype=jnp.float32, min_seconds: float = 0.0,
                         result_dtype=None) -> float:  # fmt: skip
    """Dense matmul FLOP/s of the default device: the median of at least `repeats` timed
    products (more until `min_seconds` have been spent), after a warm-up. Operands in `dtype`,
    the result in `result_dtype` (default `dtype`): bf16 operands with an f32 result are a
    different, on AMX CPUs much faster, kernel than bf16 -> bf16 (docs/pretrain.md)."""
    a = jax.random.normal(jax.random.key(0), (size, size), dtype)
    b = jax.random.normal(jax.random.key(1), (size, size), dtype)
    matmul = jax.jit(lambda a, b: jnp.matmul(a, b, preferred_element_type=result_dtype))
    matmul(a, b).block_until_ready()
    times = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        matmul(a, b).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2.0 * size**3 / float(np.median(times))


def peak_flops_per_device(configured: float = 0.0) -> tuple[float, str]:
    """(peak FLOP/s, where the number comes from)."""
    if configured > 0:
        return configured, "config"
    kind = jax.devices()[0].device_kind
    for key, value in PEAK_FLOPS_BY_KIND.items():
        if key.lower() in kind.lower():
            return value, f"data sheet ({key}, dense bf16)"
    return measure_matmul_flops(), f"measured f32 matmul on {kind}"


class MetricsWriter:
    """One JSON line per logged step (metrics.jsonl) and TensorBoard event files.

    Only process 0 writes; the others keep the same interface and write nothing. Both go through
    tinymyo_jax.storage, so a gs:// workdir gets them on the object store.
    """

    def __init__(self, workdir: storage.PathLike, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._jsonl = None
        self._tb = None
        if enabled:
            workdir = storage.mkdir(workdir)
            self._jsonl = storage.AppendLog(workdir / "metrics.jsonl")
            from tensorboardX import SummaryWriter

            _register_tensorboard_storage()
            self._tb = SummaryWriter(str(workdir / "tensorboard"))

    def write(self, step: int, metrics: dict[str, Any], prefix: str = "train") -> None:
        if not self.enabled:
            return
        record = {"step": int(step), "split": prefix, **{k: float(v) for k, v in metrics.items()}}
        self._jsonl.write(json.dumps(record) + "\n")
        for name, value in metrics.items():
            self._tb.add_scalar(f"{prefix}/{name}", float(value), int(step))

    def forget_after(self, step: int) -> None:
        """Drop metrics.jsonl rows logged after `step`: a run resumed from the checkpoint of
        `step` logs the later steps again, and each step must appear once."""
        if not self.enabled or not storage.exists(self._jsonl.path):
            return
        lines = storage.read_text(self._jsonl.path).splitlines(keepends=True)
        kept = [line for line in lines if not _logged_after(line, step)]
        if len(kept) == len(lines):
            return
        self._jsonl.close()
        storage.write_atomic(self._jsonl.path, "".join(kept))
        self._jsonl = storage.AppendLog(self._jsonl.path)

    def write_image(self, step: int, tag: str, png_path: storage.PathLike) -> None:
        if not self.enabled:
            return
        import matplotlib.image

        image = matplotlib.image.imread(io.BytesIO(storage.read_bytes(png_path)), format="png")[..., :3]
        self._tb.add_image(tag, image, int(step), dataformats="HWC")

    def close(self) -> None:
        if self.enabled:
            self._jsonl.close()
            self._tb.close()


def _logged_after(line: str, step: int) -> bool:
    try:
        return int(json.loads(line)["step"]) > step
    except (ValueError, KeyError, TypeError):
        return False  # a torn last line of a killed run: kept as it was


class _StorageEventFile:
    """A TensorBoard event file on an object store: events are buffered and the whole file is
    written as one object on each flush (tensorboardX flushes every `flush_secs` and on close).
    Object stores cannot append, and this keeps event files off tensorboardX's own cloud
    writers (boto3 / google-cloud-storage clients with their own credentials and endpoints)."""

    def __init__(self, path: str) -> None:
        self.path = storage.path(path)
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> None:
        self.buffer.write(data)

    def flush(self) -> None:
        storage.write_bytes(self.path, self.buffer.getvalue())

    def close(self) -> None:
        self.flush()


class _StorageEventFiles:
    """tensorboardX writer factory for the URL schemes of tinymyo_jax.storage."""

    def open(self, path: str) -> _StorageEventFile:
        return _StorageEventFile(path)

    def directory_check(self, path: str) -> None:
        storage.mkdir(path)


def _register_tensorboard_storage() -> None:
    from tensorboardX import record_writer

    for scheme in storage.URL_SCHEMES:
        record_writer.register_writer_factory(scheme, _StorageEventFiles())

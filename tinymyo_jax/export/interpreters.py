"""Run TFLite models in LiteRT and in TFLite Micro, each call in a child process (worker.py).

Why a child process: LiteRT aborts the process on some broken int8 models instead of raising,
and TFLM crashes on the next interpreter after a failed allocation. A crash here becomes an
`InterpreterCrash` with the child's stderr, never a dead parent (or a dead pytest run).

Inputs are given in the model's own input dtype (int8 models take int8: see `quantize_input`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tinymyo_jax.export.tflite_file import TensorInfo

# The TFLM Python interpreter allocates this much for measuring runs; print_allocations() then
# reports what the model really used (the arena size to reserve).
MEASURING_ARENA_BYTES = 256 * 1024 * 1024
_ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_ARENA_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_ARENA_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")


class InterpreterCrash(RuntimeError):
    """An interpreter child process died or failed; the message carries its stderr tail."""


def _launch(request: dict, arrays: dict[str, np.ndarray], folder: Path) -> subprocess.Popen:
    np.savez(folder / "inputs.npz", **arrays)
    (folder / "request.json").write_text(json.dumps(request))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "tinymyo_jax.export.worker", str(folder / "request.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _collect(request: dict, process: subprocess.Popen, folder: Path, timeout: float | None) -> tuple[dict, dict, str]:
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as err:
        process.kill()
        process.communicate()
        raise InterpreterCrash(f"{request['task']} on {request.get('model', '')} ran past {timeout} s") from err
    if process.returncode != 0:
        code = process.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        tail = "\n".join((stderr or "").strip().splitlines()[-15:])
        raise InterpreterCrash(f"the {request.get('engine', request['task'])} child process {how}:\n{tail}")
    result = json.loads((folder / "result.json").read_text())
    outputs = {}
    if (folder / "outputs.npz").exists():
        with np.load(folder / "outputs.npz") as data:
            outputs = {k: data[k] for k in data.files}
    return result, outputs, stderr


def _call_worker(request: dict, arrays: dict[str, np.ndarray], *, timeout: float | None) -> tuple[dict, dict, str]:
    with tempfile.TemporaryDirectory(prefix="tinymyo_interp_") as tmp:
        process = _launch(request, arrays, Path(tmp))
        return _collect(request, process, Path(tmp), timeout)


def quantize_input(x: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """Float windows -> the model's input dtype (int8 / int16: round(x / scale) + zero_point, clipped)."""
    if tensor.dtype == "FLOAT32":
        return np.asarray(x, np.float32)
    if tensor.dtype not in ("INT8", "INT16"):
        raise ValueError(f"unsupported input type {tensor.dtype}")
    scale, zero = tensor.scale[0], tensor.zero_point[0]
    limits = np.iinfo(np.int8 if tensor.dtype == "INT8" else np.int16)
    return np.clip(np.round(np.asarray(x, np.float64) / scale) + zero, limits.min, limits.max).astype(limits.dtype)


def dequantize_output(y: np.ndarray, tensor: TensorInfo) -> np.ndarray:
    """The model's raw output -> float32 (int8: (y − zero_point) · scale)."""
    if tensor.dtype == "FLOAT32":
        return np.asarray(y, np.float32)
    return ((np.asarray(y, np.float64) - tensor.zero_point[0]) * tensor.scale[0]).astype(np.float32)


def run_model(
    model_path: str | Path,
    windows: np.ndarray,
    *,
    engine: str,
    arena_size: int | None = None,
    processes: int = 1,
    timeout: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run every window (n, *input_shape) through the model with engine "litert" or "tflm".

    Returns (outputs (n, *output_shape) in the model's output dtype, seconds per invoke (n,)).
    TFLM runs with `arena_size` bytes (default MEASURING_ARENA_BYTES). `processes` > 1 splits
    the windows over that many concurrent children (throughput; their latencies then compete
    for cores: time latency with processes=1).
    """
    request = {
        "task": "run", "engine": engine, "model": str(Path(model_path).absolute()),
        "arena_size": int(arena_size or MEASURING_ARENA_BYTES),
    }  # fmt: skip
    windows = np.asarray(windows)
    chunks = [c for c in np.array_split(windows, max(1, min(processes, len(windows)))) if len(c)]
    with tempfile.TemporaryDirectory(prefix="tinymyo_interp_") as tmp:
        folders = [Path(tmp) / str(i) for i in range(len(chunks))]
        running = []
        for folder, chunk in zip(folders, chunks):
            folder.mkdir()
            running.append(_launch(request, {"x": chunk}, folder))
        results = []
        try:
            for folder, process in zip(folders, running):
                results.append(_collect(request, process, folder, timeout))
        finally:
            for process in running:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
    outputs = np.concatenate([outputs["y"] for _, outputs, _ in results])
    latency = np.concatenate([np.asarray(result["latency_s"]) for result, _, _ in results])
    return outputs, latency


def tflm_arena_bytes(model_path: str | Path, window: np.ndarray, *, timeout: float | None = None) -> dict[str, int]:
    """The TFLM arena the model needs, from print_allocations() after one invoke.

    Returns {"total", "head", "tail"} bytes: head is the planned activation memory (non-
    persistent), tail the persistent allocations (tensor structs, kernel op data). Measured with
    the host (64-bit) build: 32-bit targets need the same head and a smaller tail.
    """
    request = {"task": "arena", "model": str(Path(model_path).absolute()), "arena_size": MEASURING_ARENA_BYTES}
    _, _, stderr = _call_worker(request, {"x": np.asarray(window)[None]}, timeout=timeout)
    found = {key: pattern.search(stderr) for key, pattern in (("total", _ARENA_TOTAL), ("head", _ARENA_HEAD), ("tail", _ARENA_TAIL))}
    if found["total"] is None:
        raise InterpreterCrash(f"print_allocations() printed no arena total; stderr was:\n{stderr[-2000:]}")
    return {key: int(match.group(1)) for key, match in found.items() if match is not None}


def layer_errors(
    float_model: str | Path,
    int8_model: str | Path,
    float_windows: np.ndarray,
    int8_windows: np.ndarray,
    *,
    timeout: float | None = None,
) -> list[dict]:
    """Per-activation int8 error: every tensor the two models share by name, in graph order,
    with the int8 value dequantised and compared to the float model's (LiteRT reference kernels).

    Each row: tensor, op (the producer), shape, scale, relative_rms_error (RMS error / RMS of the
    float value), max_abs_error, max_abs_value.
    """
    request = {
        "task": "layers",
        "float_model": str(Path(float_model).absolute()),
        "int8_model": str(Path(int8_model).absolute()),
    }
    result, _, _ = _call_worker(
        request, {"x_float": np.asarray(float_windows, np.float32), "x_int8": np.asarray(int8_windows)}, timeout=timeout
    )
    return result["layers"]

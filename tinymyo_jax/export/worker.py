"""Child process that runs TFLite interpreters for interpreters.py: `python -m ... REQUEST.json`.

LiteRT and the TFLite Micro Python interpreter abort or crash the whole process on some bad
models (and a failed TFLM allocation can leave the next one corrupted), so every interpreter
runs here, in a process of its own, and the parent reads files back. This module imports
neither JAX nor TensorFlow, so a child starts in well under a second.

Tasks (the request's "task"):
  run     run `model` on every window of inputs.npz["x"] with engine "litert" or "tflm";
          writes outputs.npz["y"] and result.json {"latency_s": [...per window...]}
  arena   run TFLM once with a generous arena, then print_allocations() (to C stderr, which
          the parent captures and parses)
  layers  run the float and the int8 model (LiteRT reference kernels, all tensors kept) on
          matching windows and compare every activation the two share by name
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from tinymyo_jax.export.tflite_file import read_tflite


def _litert(model: bytes, *, keep_all: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    if keep_all:
        interpreter = Interpreter(
            model_content=model,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
            experimental_preserve_all_tensors=True,
        )
    else:
        interpreter = Interpreter(model_content=model, num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def _tflm(model: bytes, arena_size: int):
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model, arena_size=arena_size)


def task_run(request: dict, folder: Path) -> None:
    model = Path(request["model"]).read_bytes()
    windows = np.load(folder / "inputs.npz")["x"]
    outputs, latency = [], []
    if request["engine"] == "litert":
        interpreter = _litert(model)
        source, sink = interpreter.get_input_details()[0]["index"], interpreter.get_output_details()[0]["index"]
        for window in windows:
            interpreter.set_tensor(source, window)
            start = time.perf_counter()
            interpreter.invoke()
            latency.append(time.perf_counter() - start)
            outputs.append(np.array(interpreter.get_tensor(sink)))
    elif request["engine"] == "tflm":
        interpreter = _tflm(model, int(request["arena_size"]))
        for window in windows:
            interpreter.set_input(window, 0)
            start = time.perf_counter()
            interpreter.invoke()
            latency.append(time.perf_counter() - start)
            outputs.append(np.array(interpreter.get_output(0)))
    else:
        raise ValueError(f"unknown engine {request['engine']!r}")
    np.savez(folder / "outputs.npz", y=np.stack(outputs))
    (folder / "result.json").write_text(json.dumps({"latency_s": latency}))


def task_arena(request: dict, folder: Path) -> None:
    model = Path(request["model"]).read_bytes()
    window = np.load(folder / "inputs.npz")["x"][0]
    interpreter = _tflm(model, int(request["arena_size"]))
    interpreter.set_input(window, 0)
    interpreter.invoke()
    sys.stdout.flush()
    interpreter.print_allocations()  # C stderr: "[RecordingMicroAllocator] Arena allocation total N bytes"
    (folder / "result.json").write_text(json.dumps({"ok": True}))


def _dequantize(array: np.ndarray, detail: dict) -> np.ndarray:
    if array.dtype in (np.float32, np.float64):
        return array.astype(np.float64)
    scale, zero = detail["quantization"]
    if not scale:
        return array.astype(np.float64)
    return (array.astype(np.float64) - zero) * scale


def task_layers(request: dict, folder: Path) -> None:
    float_model, int8_model = Path(request["float_model"]).read_bytes(), Path(request["int8_model"]).read_bytes()
    data = np.load(folder / "inputs.npz")
    float_windows, int8_windows = data["x_float"], data["x_int8"]
    summary = read_tflite(int8_model)
    float_summary = read_tflite(float_model)
    float_activations = {t.name: t.index for t in float_summary.tensors if not t.constant}
    producer, op_inputs = {}, {}
    for op in summary.operators:
        for out in op.outputs:
            producer[out], op_inputs[out] = op.op, op.inputs
    # Activations in graph order: the input, then each operator's outputs.
    order = list(summary.inputs) + [out for op in summary.operators for out in op.outputs]
    rows = [
        (index, float_activations[summary.tensors[index].name])
        for index in dict.fromkeys(order)
        if summary.tensors[index].name in float_activations
    ]
    f_interp, q_interp = _litert(float_model, keep_all=True), _litert(int8_model, keep_all=True)
    q_details = {d["index"]: d for d in q_interp.get_tensor_details()}
    stats = {q: {"sq_err": 0.0, "sq_ref": 0.0, "max_err": 0.0, "max_ref": 0.0} for q, _ in rows}
    for x_float, x_int8 in zip(float_windows, int8_windows):
        f_interp.set_tensor(f_interp.get_input_details()[0]["index"], x_float)
        q_interp.set_tensor(q_interp.get_input_details()[0]["index"], x_int8)
        f_interp.invoke()
        q_interp.invoke()
        for q_index, f_index in rows:
            reference = f_interp.get_tensor(f_index).astype(np.float64)
            approx = _dequantize(q_interp.get_tensor(q_index), q_details[q_index])
            if approx.shape != reference.shape:
                continue
            error = approx - reference
            entry = stats[q_index]
            entry["sq_err"] += float(np.sum(error**2))
            entry["sq_ref"] += float(np.sum(reference**2))
            entry["max_err"] = max(entry["max_err"], float(np.abs(error).max()))
            entry["max_ref"] = max(entry["max_ref"], float(np.abs(reference).max()))
    report, relative = [], {}
    for q_index, _ in rows:
        tensor, entry = summary.tensors[q_index], stats[q_index]
        relative[q_index] = float(np.sqrt(entry["sq_err"] / max(entry["sq_ref"], 1e-30)))
        # Error this op added: its output's relative error minus the worst of its inputs'.
        inherited = max((relative[i] for i in op_inputs.get(q_index, ()) if i in relative), default=0.0)
        report.append({
            "tensor": tensor.name,
            "op": producer.get(q_index, "input"),
            "shape": list(tensor.shape),
            "scale": tensor.scale[0] if len(tensor.scale) == 1 else None,
            "relative_rms_error": relative[q_index],
            "error_added": relative[q_index] - inherited,
            "max_abs_error": entry["max_err"],
            "max_abs_value": entry["max_ref"],
        })  # fmt: skip
    (folder / "result.json").write_text(json.dumps({"layers": report}))


TASKS = {"run": task_run, "arena": task_arena, "layers": task_layers}


def main(argv: list[str]) -> int:
    request_path = Path(argv[0])
    request = json.loads(request_path.read_text())
    TASKS[request["task"]](request, request_path.parent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

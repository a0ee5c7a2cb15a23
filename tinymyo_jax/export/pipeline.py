"""Checkpoint -> float and int8 TFLite models, TFLite Micro C sources and a measured report.

    report = export_model(model, "out/", channels=16, samples=200, int8=True,
                          calibration=cal_windows, evaluation=test_windows)

Every number in the report is measured on this run: the export form's deviation from the
training model (in JAX), the float .tflite against JAX, int8 through the TFLM interpreter
against the float model and against the task's labels, per-layer int8 error, the TFLM arena,
host latencies. Interpreters run in child processes (interpreters.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np

from tinymyo_jax import storage
from tinymyo_jax.errors import UserError
from tinymyo_jax.export import c_source, quality
from tinymyo_jax.export.convert import convert_float, convert_int8
from tinymyo_jax.export.export_form import ExportSpec, check_spec, default_output, export_constants, export_function, reference_function
from tinymyo_jax.export.interpreters import dequantize_output, layer_errors, quantize_input, run_model, tflm_arena_bytes
from tinymyo_jax.export.numerics import gelu_max_error
from tinymyo_jax.export.tflite_file import check_integer_only, read_tflite
from tinymyo_jax.export.windows import ExportWindows, clip_windows, int8_input_limit, synthetic_windows
from tinymyo_jax.models.checkpoint import load_model_checkpoint, params_of
from tinymyo_jax.models.normalization import normalize

# GELU forms (numerics.GELU_FORMS), chosen by measurement: docs/export.md.
FLOAT_GELU = "erf_as"  # float32-exact to 7e-7 with ABS/DIV/EXP, which TFLM runs in float
INT8_GELU = "tanh"  # LOGISTIC/MUL/ADD only; int8 agreement equal to poly5 and sigmoid (docs/export.md)
FORM_CHECK_WINDOWS = 64  # windows for the JAX export-form-vs-training-model deviation
FLOAT_TFLM_WINDOWS = 4  # the float model in TFLM: a check, not an evaluation
LATENCY_WINDOWS = 6  # timed one after another in one process; the first invoke is excluded


def _count_params(model: Any) -> int:
    return int(sum(np.size(leaf) for leaf in jax.tree.leaves(params_of(model))))


def _batched(fn: Callable, windows: np.ndarray, batch: int = 16) -> np.ndarray:
    """fn over windows in fixed-size jitted batches (the last one padded: one compilation)."""
    jitted = jax.jit(fn)
    outputs = []
    for start in range(0, len(windows), batch):
        chunk = windows[start : start + batch]
        padded = np.concatenate([chunk, np.zeros((batch - len(chunk), *chunk.shape[1:]), chunk.dtype)])
        outputs.append(np.asarray(jitted(padded))[: len(chunk)])
    return np.concatenate(outputs)


def _latency_ms(seconds: np.ndarray) -> dict[str, float]:
    # The first invoke includes one-time work (XNNPACK packing, TFLM prepare paths): excluded.
    steady = seconds[1:] if len(seconds) > 1 else seconds
    return {"median": float(np.median(steady) * 1e3), "min": float(np.min(steady) * 1e3), "invokes": int(len(steady))}


def _latencies(path: Path, windows: np.ndarray) -> dict[str, dict[str, float]]:
    """Host latency per invoke in LiteRT (1 thread, XNNPACK) and TFLM (reference kernels)."""
    return {engine: _latency_ms(run_model(path, windows, engine=engine)[1]) for engine in ("litert", "tflm")}


def _tflite_section(path: Path, model: bytes) -> dict[str, Any]:
    summary = read_tflite(model)
    return {
        "file": path.name,
        "bytes": len(model),
        "constant_bytes": summary.constant_bytes(),
        "tensor_name_bytes": summary.tensor_name_bytes(),
        "constant_elements": summary.constant_elements(),
        "ops": summary.op_names,
        "op_counts": summary.op_counts,
        "tensor_types": summary.tensor_types(),
        "input": _io(summary.io(0)),
        "output": _io(summary.io(0, output=True)),
    }


def _io(tensor) -> dict[str, Any]:
    entry = {"name": tensor.name, "shape": list(tensor.shape), "dtype": tensor.dtype}
    if tensor.dtype == "INT8":
        entry.update(scale=tensor.scale[0], zero_point=tensor.zero_point[0])
    return entry


def normalized_windows(windows: ExportWindows | None, mode: str) -> ExportWindows | None:
    """Windows with their emg passed through the model's input normalisation `mode` (all
    channels real: an export computes its real channels only)."""
    if windows is None or mode == "none":
        return windows

    emg = np.asarray(normalize(np.asarray(windows.emg, np.float32), mode), np.float32)
    return ExportWindows(emg, windows.labels, windows.targets, windows.source)


def export_model(
    model: Any,
    out_dir: str | Path,
    *,
    channels: int,
    samples: int,
    output: str | None = None,
    int8: bool = False,
    calibration: ExportWindows | None = None,
    evaluation: ExportWindows | None = None,
    float_gelu: str = FLOAT_GELU,
    int8_gelu: str = INT8_GELU,
    layer_windows: int = 8,
    tflm_windows: int | None = None,
    processes: int | None = None,
    rescale_first_norm: bool = True,
    int16x8: bool = False,
    int8_attention: str = "ratio",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Export `model` (a TinyMyo) to `out_dir`; returns the report (also written as report.json).

    calibration: windows (n, channels, samples) for int8 calibration; required with int8.
    evaluation: held-out windows for every comparison (default: 64 synthetic windows).
    Both in the prepared units: the model's `config.normalization` is applied to them here.
    tflm_windows: how many of them run through the TFLM interpreter (default all; LiteRT runs
        all), in `processes` concurrent children (default: one per CPU core).
    int8_attention: the int8 form's attention weights (numerics.attend: "ratio" keeps diffuse
        attention over hundreds of tokens, which int8 SOFTMAX's fixed 1/256 step loses).
    int16x8: with int8, also the 16x8 model (int8 weights, int16 activations) from the same
        export form and calibration, measured the same way (report["int16x8"], quality
        ["int16x8_tflm"]); the C sources stay the full-int8 model's.

    Stages, one function each: check the inputs -> the export forms, checked against the training
    model in JAX (`_export_forms`) -> float .tflite (`_export_float`) -> int8 (`_export_int8`) ->
    16x8 (`_export_int16x8`) -> TFLite Micro C sources (`_write_c_sources`) -> report.json.
    """
    if storage.is_remote(out_dir):
        # the converters, interpreters and C writers work on local files: export into a local
        # folder, then copy it to the object store (each file one object write). Before any window
        # is normalised: the local export normalises them, once.
        with tempfile.TemporaryDirectory(prefix="tinymyo-export-") as local:
            report = export_model(
                model, local, channels=channels, samples=samples, output=output, int8=int8, calibration=calibration,
                evaluation=evaluation, float_gelu=float_gelu, int8_gelu=int8_gelu, layer_windows=layer_windows,
                tflm_windows=tflm_windows, processes=processes, rescale_first_norm=rescale_first_norm, int16x8=int16x8,
                int8_attention=int8_attention, log=log)  # fmt: skip
            if not int8:
                storage.remove_tree(storage.path(out_dir) / "model_int8.tflite")
            storage.copy_tree(local, out_dir)
        return report
    processes = processes or max(1, os.cpu_count() or 1)
    config = model.config
    output = output or default_output(config)
    float_spec = ExportSpec(channels, samples, output, float_gelu)
    int8_spec = ExportSpec(channels, samples, output, int8_gelu, rescale_first_norm=rescale_first_norm, attention=int8_attention,
                           standardize_head=True)  # fmt: skip
    calibration, evaluation = _checked_windows(config, float_spec, int8_spec, int8, calibration, evaluation)
    # The full-int8 model's input range (windows.int8_input_limit; 16x8's int16 input keeps the full range).
    int8_limit = int8_input_limit(calibration.emg, config.normalization) if int8 else None
    int8_calibration = clip_windows(calibration, int8_limit) if int8 else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not int8:
        (out_dir / "model_int8.tflite").unlink(missing_ok=True)  # a stale one would not match the C sources
    kind = quality.output_kind(config.head, output)
    started = time.perf_counter()
    eval_x = evaluation.emg.astype(np.float32)
    log(f"exporting {kind} output of a {config.depth}-block dim-{config.embed_dim} TinyMyo at {channels} x {samples} "
        f"({channels * samples // config.patch_size} tokens); {len(evaluation)} evaluation windows from {evaluation.source}")  # fmt: skip
    reference = _batched(reference_function(model, float_spec), eval_x)
    run = _Run(out_dir, kind, (1, channels, samples), eval_x, evaluation, reference, processes, tflm_windows, log)
    functions, forms = _export_forms(run, model, float_spec, int8_spec if int8 else None, int8_calibration, int16x8)
    report = _report_header(run, model, output, forms, int8=int8, rescale_first_norm=rescale_first_norm)

    report["float"], float_out = _export_float(run, functions["float"])
    deployed_path, deployed_bytes = out_dir / report["float"]["file"], (out_dir / report["float"]["file"]).read_bytes()
    quality_block: dict[str, Any] = {
        "jax": {"task": quality.task_metric(kind, reference, evaluation.labels, evaluation.targets)},
        "float": {"task": quality.task_metric(kind, float_out, evaluation.labels, evaluation.targets)},
    }
    if int8:
        report["int8"], int8_quality = _export_int8(run, functions["int8"], int8_calibration, int8_limit, float_out,
                                                      layer_windows)
        quality_block.update(int8_quality)
        deployed_path = out_dir / report["int8"]["file"]
        deployed_bytes = deployed_path.read_bytes()
    if int8 and int16x8:
        report["int16x8"], quality_block["int16x8_tflm"] = _export_int16x8(run, functions["int16x8"], calibration, float_out)
    report["quality"] = quality_block

    report["c_sources"] = _write_c_sources(run, report, deployed_path, deployed_bytes, int8=int8)
    report["seconds"] = round(time.perf_counter() - started, 1)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {out_dir} in {report['seconds']:.0f} s: {', '.join(sorted(p.name for p in out_dir.iterdir()))}")
    return report


@dataclasses.dataclass(frozen=True)
class _Run:
    """What every stage of one export reads."""

    out_dir: Path
    kind: str  # quality.output_kind: what the output is (class logits, regression, features)
    input_shape: tuple[int, int, int]  # (1, channels, samples)
    eval_x: np.ndarray  # the evaluation windows, float32 (n, channels, samples), normalised
    evaluation: ExportWindows  # the same windows with their labels / targets and source
    reference: np.ndarray  # the training model's outputs on eval_x (JAX)
    processes: int  # concurrent TFLM children
    tflm_windows: int | None  # how many evaluation windows TFLM runs (None: all)
    log: Callable[[str], None]

    def tflm_count(self, available: int) -> int:
        return available if self.tflm_windows is None else min(self.tflm_windows, available)

    def task_slice(self, count: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The labels and targets of the first `count` evaluation windows."""
        labels, targets = self.evaluation.labels, self.evaluation.targets
        return (None if labels is None else labels[:count]), (None if targets is None else targets[:count])


def _checked_windows(config: Any, float_spec: ExportSpec, int8_spec: ExportSpec, int8: bool,
                     calibration: ExportWindows | None, evaluation: ExportWindows | None,
                     ) -> tuple[ExportWindows | None, ExportWindows]:  # fmt: skip
    """The specs and windows checked (one-line UserErrors), the evaluation windows defaulted, and
    both normalised with the checkpoint's own input normalisation (not part of the exported
    graph: the device applies it to its input too)."""
    channels, samples = float_spec.channels, float_spec.samples
    check_spec(config, float_spec)
    check_spec(config, int8_spec)
    if int8 and (calibration is None or len(calibration) == 0):
        raise UserError("an int8 export needs calibration windows (--calibration <dataset>/<split> or synthetic)")
    for name, windows in (("calibration", calibration), ("evaluation", evaluation)):
        if windows is not None and windows.emg.shape[1:] != (channels, samples):
            raise UserError(f"{name} windows are {windows.emg.shape[1:]}, the export takes ({channels}, {samples})")
    if evaluation is None:
        evaluation = synthetic_windows(64, channels, samples, seed=1)
    return normalized_windows(calibration, config.normalization), normalized_windows(evaluation, config.normalization)


def _export_forms(run: _Run, model: Any, float_spec: ExportSpec, int8_spec: ExportSpec | None,
                  calibration: ExportWindows | None, int16x8: bool) -> tuple[dict[str, Callable], dict[str, Any]]:  # fmt: skip
    """The export forms (float, and int8 / 16x8 when `int8_spec` is given) as JAX functions, each
    checked against the training model on the first FORM_CHECK_WINDOWS evaluation windows."""
    form_x = run.eval_x[:FORM_CHECK_WINDOWS]
    forms: dict[str, Any] = {}
    functions = {}
    for role, spec in (("float", float_spec), ("int8", int8_spec)):
        if spec is None:
            continue
        constants = export_constants(model, spec, calibration.emg if role == "int8" else None)
        functions[role] = export_function(constants, model.config, spec)
        if role == "int8" and int16x8:
            # 16x8 has no DIV kernel, and its int16 SOFTMAX (step 1/32768) keeps diffuse attention
            functions["int16x8"] = export_function(constants, model.config, dataclasses.replace(spec, attention="softmax"))
        deviation = quality.compare(run.kind, run.reference[: len(form_x)], _batched(functions[role], form_x))
        forms[role] = {"gelu": spec.gelu, "attention": spec.attention, "gelu_max_pointwise_error": gelu_max_error(spec.gelu), "deviation_from_training_model": deviation}
        run.log(f"  export form for {role} (GELU {spec.gelu}): max |form - training model| = {deviation['max_abs_error']:.2e} over {len(form_x)} windows")
    return functions, forms


def _report_header(run: _Run, model: Any, output: str, forms: dict[str, Any], *, int8: bool,
                   rescale_first_norm: bool) -> dict[str, Any]:  # fmt: skip
    """The report's model, export-form and evaluation entries."""
    config = model.config
    return {
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "config": json.loads(config.to_json()),
            "parameters": _count_params(model),
            "output": output,
            "kind": run.kind,
            "input_shape": list(run.input_shape),
        },
        "export_form": {
            **forms,
            "rope": {"time": "constant cos / signed-sin tables, half-split q/k layout (weights permuted)",
                     "time_channel": "constant cos / signed-sin tables by time and channel, half-split q/k layout",
                     "reference": "dropped: the same rotation of q and k per head cancels in q.k",
                     "none": "none"}[config.rope],
            "layer_norm": "residual stream kept centred (writers' weights centred), x*rsqrt(mean(x^2)+eps) with means as "
                          "constant 1/n products, scale and bias folded into the next linear"
                          + ("; int8: first norm recomputed from per-token rescaled patches" if int8 and rescale_first_norm else ""),
            "channel_mask": f"absent: the export computes its {run.input_shape[1]} real channels only",
            "input_normalization": f"{config.normalization} (models/normalization.py), applied to the prepared "
                                   "windows before the model input, not in the graph",
            # the device must feed windows at the rate the weights learnt from (None: unknown)
            "input_rate_hz": config.input_rate_hz,
        },  # fmt: skip
        "evaluation": {"source": run.evaluation.source, "windows": len(run.evaluation)},
    }


def _export_float(run: _Run, function: Callable) -> tuple[dict[str, Any], np.ndarray]:
    """model_float.tflite: converted, run in LiteRT on every evaluation window and in TFLM on a
    few; returns its report section and its LiteRT outputs."""
    tick = time.perf_counter()
    float_bytes = convert_float(function, run.input_shape)
    float_path = run.out_dir / "model_float.tflite"
    float_path.write_bytes(float_bytes)
    section = _tflite_section(float_path, float_bytes)
    section["convert_seconds"] = round(time.perf_counter() - tick, 2)
    float_out, _ = run_model(float_path, run.eval_x[:, None], engine="litert")
    float_out = float_out[:, 0]
    section["vs_jax"] = quality.compare(run.kind, run.reference, float_out)
    tflm_float, _ = run_model(float_path, run.eval_x[:FLOAT_TFLM_WINDOWS, None], engine="tflm")
    section["tflm_vs_litert_max_abs_error"] = float(np.abs(tflm_float[:, 0] - float_out[:FLOAT_TFLM_WINDOWS]).max())
    section["latency_ms"] = _latencies(float_path, run.eval_x[:LATENCY_WINDOWS, None])
    section["tflm_arena_bytes"] = tflm_arena_bytes(float_path, run.eval_x[:1])["total"]
    run.log(f"  float: {len(float_bytes):,} bytes, ops {', '.join(section['ops'])}; max |tflite - JAX| = "
            f"{section['vs_jax']['max_abs_error']:.2e}; TFLM arena {section['tflm_arena_bytes']:,} bytes")  # fmt: skip
    return section, float_out


def _export_int8(run: _Run, function: Callable, calibration: ExportWindows, input_limit: float | None,
                 float_out: np.ndarray, layer_windows: int) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """model_int8.tflite: converted with `calibration` (clipped to `input_limit`, None: its own range), checked integer-only, run in TFLM and
    LiteRT, compared per layer with a float twin; returns its report section and its quality
    entries (int8_tflm, int8_litert)."""
    tick = time.perf_counter()
    int8_bytes = convert_int8(function, run.input_shape, calibration.emg)
    int8_path = run.out_dir / "model_int8.tflite"
    summary = read_tflite(int8_bytes)
    try:
        check_integer_only(summary)
    except ValueError as err:
        raise UserError(f"{err}; the export form should not produce this: please report it") from err
    int8_path.write_bytes(int8_bytes)
    section = _tflite_section(int8_path, int8_bytes)
    section["integer_only"] = True
    section["convert_seconds"] = round(time.perf_counter() - tick, 2)
    section["calibration"] = {"source": calibration.source, "windows": len(calibration)}
    section["input_range"] = {"clip": input_limit, "step": summary.io(0).scale[0]}
    source_tensor, sink_tensor = summary.io(0), summary.io(0, output=True)
    q_x = quantize_input(run.eval_x[:, None], source_tensor)
    section["latency_ms"] = _latencies(int8_path, q_x[:LATENCY_WINDOWS])
    arena = tflm_arena_bytes(int8_path, q_x[0])
    section["tflm_arena"] = {**arena, "reserve": c_source.arena_to_reserve(arena["total"])}
    tflm_count = run.tflm_count(len(q_x))
    run.log(f"  int8: {len(int8_bytes):,} bytes, integer-only, TFLM arena {arena['total']:,} bytes; "
            f"running {tflm_count} windows through TFLM ({run.processes} processes)")  # fmt: skip
    tick = time.perf_counter()
    tflm_raw, _ = run_model(int8_path, q_x[:tflm_count], engine="tflm", processes=run.processes)
    litert_raw, _ = run_model(int8_path, q_x, engine="litert")
    int8_out = dequantize_output(tflm_raw[:, 0], sink_tensor)
    litert_out = dequantize_output(litert_raw[:, 0], sink_tensor)
    section["tflm_seconds"] = round(time.perf_counter() - tick, 1)
    section["tflm_vs_litert_max_abs_error"] = float(np.abs(int8_out - litert_out[:tflm_count]).max())
    section["output_quantization_step"] = sink_tensor.scale[0]
    evaluation = run.evaluation
    entries = {
        "int8_tflm": {
            "windows": tflm_count,
            "vs_float": quality.compare(run.kind, float_out[:tflm_count], int8_out),
            "vs_jax": quality.compare(run.kind, run.reference[:tflm_count], int8_out),
            "task": quality.task_metric(run.kind, int8_out, *run.task_slice(tflm_count)),
        },
        "int8_litert": {
            "windows": len(q_x),
            "vs_float": quality.compare(run.kind, float_out, litert_out),
            "task": quality.task_metric(run.kind, litert_out, evaluation.labels, evaluation.targets),
        },
    }
    section["layers"] = _layer_errors(run, function, int8_path, q_x, layer_windows)
    vs_float = entries["int8_tflm"]["vs_float"]
    run.log(f"  int8 (TFLM) vs float: " + ", ".join(f"{k} {v:.4g}" for k, v in vs_float.items())
            + f"; arena {arena['total']:,} bytes")  # fmt: skip
    return section, entries


def _layer_errors(run: _Run, function: Callable, int8_path: Path, q_x: np.ndarray, layer_windows: int) -> dict[str, Any]:
    """Per-layer error against a float twin converted from the same export form (same graph,
    same tensor names), so each row isolates what int8 itself costs."""
    count = min(layer_windows, len(run.eval_x))
    tick = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tinymyo_export_") as tmp:
        twin_path = Path(tmp) / "int8_form_float.tflite"
        twin_path.write_bytes(convert_float(function, run.input_shape))
        layers = layer_errors(twin_path, int8_path, run.eval_x[:count, None], q_x[:count])
    run.log(f"  per-layer int8 error over {count} windows ({time.perf_counter() - tick:.0f} s); worst op: "
            + (f"{layers and quality.worst_layers(layers, 1)[0]['op']}" if layers else "none"))
    return {"windows": count, "worst": quality.worst_layers(layers), "all": layers}


def _export_int16x8(run: _Run, function: Callable, calibration: ExportWindows,
                    float_out: np.ndarray) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """model_int16x8.tflite (int8 weights, int16 activations) from the int8 export form with
    softmax attention; returns its report section and its quality entry (int16x8_tflm)."""
    tick = time.perf_counter()
    mixed_bytes = convert_int8(function, run.input_shape, calibration.emg, activations="int16")
    mixed_path = run.out_dir / "model_int16x8.tflite"
    summary16 = read_tflite(mixed_bytes)
    try:
        check_integer_only(summary16, io_type="INT16")
    except ValueError as err:
        raise UserError(f"{err}; the export form should not produce this: please report it") from err
    mixed_path.write_bytes(mixed_bytes)
    section = _tflite_section(mixed_path, mixed_bytes)
    section["attention"] = "softmax"  # the int8 form otherwise (16x8 has no DIV)
    section["convert_seconds"] = round(time.perf_counter() - tick, 2)
    q_x16 = quantize_input(run.eval_x[:, None], summary16.io(0))
    section["latency_ms"] = _latencies(mixed_path, q_x16[:LATENCY_WINDOWS])
    section["tflm_arena"] = tflm_arena_bytes(mixed_path, q_x16[0])
    tflm_count = run.tflm_count(len(q_x16))
    raw16, _ = run_model(mixed_path, q_x16[:tflm_count], engine="tflm", processes=run.processes)
    out16 = dequantize_output(raw16[:, 0], summary16.io(0, output=True))
    entry = {
        "windows": tflm_count,
        "vs_float": quality.compare(run.kind, float_out[:tflm_count], out16),
        "task": quality.task_metric(run.kind, out16, *run.task_slice(tflm_count)),
    }
    run.log(f"  int16x8: {len(mixed_bytes):,} bytes, TFLM arena {section['tflm_arena']['total']:,} bytes; (TFLM) vs float: "
            + ", ".join(f"{k} {v:.4g}" for k, v in entry["vs_float"].items()))  # fmt: skip
    return section, entry


def _write_c_sources(run: _Run, report: dict[str, Any], deployed_path: Path, deployed_bytes: bytes, *,
                     int8: bool) -> dict[str, Any]:  # fmt: skip
    """The TFLite Micro C sources of the deployed model (int8 when exported, else float): model
    data, op resolver and a sample window with the model's TFLM output; returns their report entry."""
    channels, samples = run.input_shape[1:]
    summary = read_tflite(deployed_bytes)
    deployed = report["int8" if int8 else "float"]
    arena_total = deployed["tflm_arena"]["total"] if int8 else deployed["tflm_arena_bytes"]
    description = f"TinyMyo {run.kind} ({'int8' if int8 else 'float32'}), input {channels} channels x {samples} samples"
    written = c_source.write_model_data(run.out_dir, deployed_bytes, summary, arena_bytes=arena_total, description=description)
    written.append(c_source.write_op_resolver(run.out_dir, summary.op_names))
    sample_in = quantize_input(run.eval_x[:1], summary.io(0))
    sample_out, _ = run_model(deployed_path, sample_in[:, None], engine="tflm")
    written.append(c_source.write_sample_window(run.out_dir, sample_in[0], sample_out[0], input_type=summary.io(0).dtype, output_type=summary.io(0, output=True).dtype))
    return {
        "model": deployed_path.name,
        "files": [p.name for p in written],
        "resolver_ops": summary.op_names,
        "resolver_methods": c_source.resolver_methods(summary.op_names),
        "flash_bytes": len(deployed_bytes),
        "arena_bytes_measured": arena_total,
        "arena_bytes_to_reserve": c_source.arena_to_reserve(arena_total),
    }


def export_checkpoint(checkpoint_dir: str | Path, out_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    """`export_model` for the model an orbax checkpoint directory holds."""
    return export_model(load_model_checkpoint(checkpoint_dir), out_dir, **kwargs)


def export_for_demo(checkpoint_dir: str | Path, out_dir: str | Path, calibration_windows: np.ndarray, *,
                    channels: int, labels: np.ndarray | None = None, evaluation_windows: np.ndarray | None = None,
                    evaluation_labels: np.ndarray | None = None, int16x8: bool = False,
                    log: Callable[[str], None] = print) -> dict[str, Any]:
    """The demo's last stage: int8 export of its classifier; returns the report dict.

    calibration_windows: float (n, C, T) windows the model was trained on; the first `channels`
    rows are real (the prepared dataset's metadata.json says how many: `source.prepared_metadata`)
    and the rest, padding, is left out of the export. Held-out windows
    (evaluation_windows, evaluation_labels) score int8; without them the last quarter of the
    calibration windows is held out (and not used for calibration).
    """  # fmt: skip
    # Window records pad channels with zero rows after the real ones (EPN-612: 8 of 16). The
    # export computes the real channels only, as the training model's channel mask does.
    if not 1 <= channels <= np.shape(calibration_windows)[1]:
        raise UserError(f"channels must be 1..{np.shape(calibration_windows)[1]} (the windows' rows), got {channels}")
    calibration_windows = np.asarray(calibration_windows, np.float32)[:, :channels]
    if evaluation_windows is not None:
        evaluation_windows = np.asarray(evaluation_windows, np.float32)[:, :channels]
    if evaluation_windows is None:
        split = max(1, len(calibration_windows) * 3 // 4)
        evaluation_windows, calibration_windows = calibration_windows[split:], calibration_windows[:split]
        if labels is not None:
            evaluation_labels, labels = labels[split:], labels[:split]
    _, channels, samples = calibration_windows.shape
    return export_checkpoint(
        checkpoint_dir, out_dir, channels=channels, samples=samples, int8=True,
        calibration=ExportWindows(calibration_windows, labels, None, "demo windows"),
        evaluation=ExportWindows(np.asarray(evaluation_windows, np.float32), evaluation_labels, None, "demo held-out windows"),
        int16x8=int16x8, log=log,
    )  # fmt: skip


def format_report(report: dict[str, Any]) -> str:
    """A few lines a person reads: sizes, arena, ops, errors, agreement, latencies."""
    lines = [f"model: {report['model']['kind']} output, input {report['model']['input_shape']}, {report['model']['parameters']:,} parameters"]
    flt = report["float"]
    lines.append(f"float: {flt['bytes']:,} bytes; max |tflite - JAX| {flt['vs_jax']['max_abs_error']:.2e}; "
                 f"LiteRT {flt['latency_ms']['litert']['median']:.2f} ms, TFLM {flt['latency_ms']['tflm']['median']:.1f} ms")  # fmt: skip
    if "int8" in report:
        q = report["int8"]
        lines.append(f"int8: {q['bytes']:,} bytes on flash; TFLM arena {q['tflm_arena']['total']:,} bytes measured, "
                     f"reserve {q['tflm_arena']['reserve']:,}; LiteRT {q['latency_ms']['litert']['median']:.2f} ms, "
                     f"TFLM {q['latency_ms']['tflm']['median']:.1f} ms per window (host)")  # fmt: skip
        lines.append(f"ops ({len(q['ops'])}): {', '.join(q['ops'])}")
        vs_float = report["quality"]["int8_tflm"]["vs_float"]
        lines.append("int8 (TFLM) vs float: " + ", ".join(f"{k} {v:.4g}" for k, v in vs_float.items()))
        for name in ("jax", "float", "int8_tflm"):
            task = report["quality"].get(name, {}).get("task")
            if task:
                lines.append(f"task metric {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in task.items()))
        if "int16x8" in report:
            m = report["int16x8"]
            lines.append(f"int16x8 (int8 weights, int16 activations): {m['bytes']:,} bytes, TFLM arena {m['tflm_arena']['total']:,} "
                         f"bytes, TFLM {m['latency_ms']['tflm']['median']:.1f} ms; vs float: "
                         + ", ".join(f"{k} {v:.4g}" for k, v in report["quality"]["int16x8_tflm"]["vs_float"].items()))  # fmt: skip
        worst = q["layers"]["worst"][:3]
        lines.append("int8 hurts most at: " + "; ".join(f"{w['op']} {w['tensor'][:40]} (+{w['error_added']:.3f})" for w in worst))
    return "\n".join(lines)

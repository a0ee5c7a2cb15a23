"""Export the published TinyMyo (preset "tinymyo", 3.6M parameters) at the benchmark shapes and
print what a microcontroller needs: flash, arena, ops, host latency, int8 quality.

    .venv/bin/python benchmarks/export_published.py                 # both shapes
    .venv/bin/python benchmarks/export_published.py --shapes db5 --eval-windows 64
    .venv/bin/python benchmarks/export_published.py --shapes epn --checkpoint runs/finetune_epn/best

    # the published-size model fine-tuned on real UCI gestures, >= 300 held-out real windows:
    .venv/bin/python benchmarks/export_published.py --shapes epn --checkpoint runs/ft_uci/best \
        --data-dir runs/tfds --raw-dir ../shared/real/uci_emg --eval-stride 250 --int16x8 --tflm-windows 48

Shapes: db5 = 16 channels x 200 samples (NinaPro DB5, 53 classes), epn = 8 x 1000 (EPN-612,
6 classes; also UCI's shape). With --data-dir the calibration windows are the prepared
uci_emg/w1000 training split, and with --raw-dir the evaluation windows are cut from the raw UCI
files of the validation and test subjects at --eval-stride (the prepared split's stride is 500;
250 doubles the held-out windows, each still from subjects never trained or calibrated on). Weights are freshly initialised (no published fine-tuned weights ship with the
package; arena and flash do not depend on the values) or, with --checkpoint, a model made by
`tinymyo finetune` (its WORKDIR/best, the one training loop for classifiers), so that
int8-vs-float agreement means something (random logits sit within int8 noise of each other). The classification head concatenates
channels; calibration / evaluation windows are synthetic gesture windows. Each export goes
through an orbax checkpoint and `export_checkpoint`, as `tinymyo export` does. Writes
<out>/<shape>/ (the export) and <out>/summary.json; docs/export.md quotes the numbers.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

UCI = "uci_emg/w1000"
SHAPES = {
    "db5": dict(channels=16, samples=200, classes=53),
    "epn": dict(channels=8, samples=1000, classes=6),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--out", type=Path, default=Path("runs/export_published"))
    parser.add_argument("--calibration-windows", type=int, default=200)
    parser.add_argument("--eval-windows", type=int, default=64)
    parser.add_argument("--checkpoint", type=Path, help="export this `tinymyo finetune` model (WORKDIR/best) instead of random weights (one shape)")
    parser.add_argument("--classes", type=int, help="override the number of classes (synthetic gestures)")
    parser.add_argument("--data-dir", type=Path, help="prepared datasets holding uci_emg/w1000: calibrate on its training split")
    parser.add_argument("--raw-dir", type=Path, help="raw UCI root: evaluate on its validation and test subjects' windows")
    parser.add_argument("--eval-stride", type=int, default=500, help="stride of the held-out windows cut from --raw-dir")
    parser.add_argument("--int16x8", action="store_true", help="also the 16x8 model (int8 weights, int16 activations)")
    parser.add_argument("--tflm-windows", type=int, help="evaluation windows run through TFLM (default all; LiteRT runs all)")
    args = parser.parse_args()

    from tinymyo_jax.export.pipeline import export_checkpoint, format_report
    from tinymyo_jax.export.windows import load_windows, synthetic_windows
    from tinymyo_jax.models.checkpoint import load_model_checkpoint, save_model_checkpoint
    from tinymyo_jax.models.config import preset
    from tinymyo_jax.models.tinymyo import build_model

    summary = {}
    for name in args.shapes:
        shape = SHAPES[name]
        channels, samples = shape["channels"], shape["samples"]
        classes = args.classes or shape["classes"]
        config = preset("tinymyo", head="classification", num_outputs=classes, num_channels=channels, fusion="concat")
        model = build_model(config, seed=0)
        if args.checkpoint:
            model = load_model_checkpoint(args.checkpoint)
            config, classes = model.config, model.config.num_outputs
        checkpoint = save_model_checkpoint(args.out / name / "checkpoint", model).parent
        if args.data_dir:
            calibration = load_windows(f"{UCI}/train", channels=channels, samples=samples, count=args.calibration_windows, data_dir=args.data_dir)
        else:
            calibration = synthetic_windows(args.calibration_windows, channels, samples, num_classes=classes, seed=0)
        if args.raw_dir:
            evaluation = raw_uci_windows(args.raw_dir, ("validation", "test"), args.eval_stride, channels)
        else:
            evaluation = synthetic_windows(args.eval_windows, channels, samples, num_classes=classes, seed=1)
        print(f"\n=== {name}: {channels} x {samples} ===", flush=True)
        start = time.perf_counter()
        report = export_checkpoint(
            checkpoint, args.out / name / "export", channels=channels, samples=samples, int8=True,
            calibration=calibration, evaluation=evaluation, log=lambda line: print(line, flush=True),
            int16x8=args.int16x8, tflm_windows=args.tflm_windows,
        )  # fmt: skip
        print(format_report(report), flush=True)
        q = report["int8"]
        summary[name] = {
            "input": [channels, samples],
            "classes": classes,
            "checkpoint": str(args.checkpoint) if args.checkpoint else None,
            "tokens": channels * samples // config.patch_size,
            "parameters": report["model"]["parameters"],
            "int8_flash_bytes": q["bytes"],
            "int8_constant_bytes": q["constant_bytes"],
            "int8_tensor_name_bytes": q["tensor_name_bytes"],
            "float_flash_bytes": report["float"]["bytes"],
            "tflm_arena_bytes": q["tflm_arena"],
            "float_tflm_arena_bytes": report["float"]["tflm_arena_bytes"],
            "ops": q["ops"],
            "latency_ms": {"float": report["float"]["latency_ms"], "int8": q["latency_ms"]},
            "float_vs_jax": report["float"]["vs_jax"],
            "int8_form_vs_training_model": report["export_form"]["int8"]["deviation_from_training_model"],
            "calibration": report["int8"]["calibration"],
            "input_range": report["int8"].get("input_range"),
            "evaluation": report["evaluation"],
            "int8_vs_float": report["quality"]["int8_tflm"]["vs_float"],
            "int8_tflm_windows": report["quality"]["int8_tflm"]["windows"],
            "int8_litert": report["quality"]["int8_litert"],
            "task": {name: report["quality"][name].get("task") for name in ("jax", "float", "int8_tflm")},
            "worst_layers": q["layers"]["worst"],
            "seconds": round(time.perf_counter() - start, 1),
        }
        if args.int16x8:
            summary[name]["int16x8"] = int16x8_summary(report, args.out / name / "export", evaluation)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {args.out / 'summary.json'}")


def raw_uci_windows(root: Path, splits: tuple[str, ...], stride: int, channels: int):
    """Windows of the raw UCI files' `splits` subjects, cut as `tinymyo prep uci_emg` cuts them
    (same preprocessing, 1000 samples) but at `stride`: (n, channels, 1000) in the prepared units."""
    import numpy as np

    from tinymyo_jax.data import corpora, prepare, protocols
    from tinymyo_jax.export.windows import ExportWindows

    protocol = corpora.protocol("uci_emg")
    root = prepare.resolve_root(root, "uci_emg")
    config = protocols.WindowConfig(f"w1000s{stride}", protocols.W1000.window, stride)
    jobs, _ = prepare.plan(protocol, root)
    emg, labels = [], []
    for split in splits:
        for job in prepare.jobs_for(jobs, split):
            _, records = prepare.prepare_file("uci_emg", config, str(root), split, None, job)
            emg += [record["emg"][:channels] for _, record in records]
            labels += [record["label"] for _, record in records]
    source = f"raw UCI {'+'.join(splits)} subjects, stride {stride} ({root})"
    return ExportWindows(np.stack(emg).astype(np.float32), np.asarray(labels, np.int64), None, source)


def int16x8_summary(report: dict, export_dir: Path, evaluation) -> dict:
    """The 16x8 model's numbers; its agreement with float on every evaluation window in LiteRT
    (the export's report runs TFLM on the first --tflm-windows)."""
    import numpy as np

    from tinymyo_jax.export import quality
    from tinymyo_jax.export.interpreters import dequantize_output, quantize_input, run_model
    from tinymyo_jax.export.pipeline import normalized_windows
    from tinymyo_jax.export.tflite_file import read_tflite

    config_normalization = report["model"]["config"]["normalization"]
    x = normalized_windows(evaluation, config_normalization).emg
    float_out, _ = run_model(export_dir / "model_float.tflite", x[:, None], engine="litert")
    path = export_dir / "model_int16x8.tflite"
    summary = read_tflite(path.read_bytes())
    raw, _ = run_model(path, quantize_input(x[:, None], summary.io(0)), engine="litert")
    out = dequantize_output(raw[:, 0], summary.io(0, output=True))
    m = report["int16x8"]
    return {
        "flash_bytes": m["bytes"],
        "tflm_arena_bytes": m["tflm_arena"],
        "latency_ms": m["latency_ms"],
        "tflm": report["quality"]["int16x8_tflm"],
        "litert": {"windows": len(x), "vs_float": quality.compare("classification", float_out[:, 0], out),
                   "task": quality.task_metric("classification", out, evaluation.labels, None)},
    }


if __name__ == "__main__":
    main()

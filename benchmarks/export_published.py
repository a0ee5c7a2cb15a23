"""Export the published TinyMyo (preset "tinymyo", 3.6M parameters) at the benchmark shapes and
print what a microcontroller needs: flash, arena, ops, host latency, int8 quality.

    .venv/bin/python benchmarks/export_published.py                 # both shapes
    .venv/bin/python benchmarks/export_published.py --shapes db5 --eval-windows 64
    .venv/bin/python benchmarks/export_published.py --shapes epn --checkpoint runs/finetune_epn/best

Shapes: db5 = 16 channels x 200 samples (NinaPro DB5, 53 classes), epn = 8 x 1000 (EPN-612,
6 classes). Weights are freshly initialised (no published fine-tuned weights ship with the
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
    args = parser.parse_args()

    from tinymyo_jax.export.pipeline import export_checkpoint, format_report
    from tinymyo_jax.export.windows import synthetic_windows
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
        calibration = synthetic_windows(args.calibration_windows, channels, samples, num_classes=classes, seed=0)
        evaluation = synthetic_windows(args.eval_windows, channels, samples, num_classes=classes, seed=1)
        print(f"\n=== {name}: {channels} x {samples} ===", flush=True)
        start = time.perf_counter()
        report = export_checkpoint(
            checkpoint, args.out / name / "export", channels=channels, samples=samples, int8=True,
            calibration=calibration, evaluation=evaluation, log=lambda line: print(line, flush=True),
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
            "int8_vs_float": report["quality"]["int8_tflm"]["vs_float"],
            "worst_layers": q["layers"]["worst"],
            "seconds": round(time.perf_counter() - start, 1),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {args.out / 'summary.json'}")


if __name__ == "__main__":
    main()

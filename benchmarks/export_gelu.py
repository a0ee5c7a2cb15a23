"""Measure the GELU candidates of the export form: their own error, the model's deviation from the
training model, and int8 agreement of a trained classifier. docs/export.md quotes the numbers.

    .venv/bin/python benchmarks/export_gelu.py             # all measurements (~5 min)
    .venv/bin/python benchmarks/export_gelu.py --fit       # also re-derive the poly5 coefficients

1. pointwise: max |form(x) − x·Φ(x)| on [−12, 12];
2. model: max |export form − training model| (JAX, float) for the published TinyMyo (random
   weights, classification head) at 16 x 200 on 32 synthetic windows;
3. int8: the small classifier of the export tests (2 blocks, dim 64, trained 200 steps on
   synthetic gestures, 8 x 200) exported to int8 with each form; TFLM top-1 agreement with its
   float model and the relative RMS logit error on 300 held-out windows.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

FORMS = ("erf_as", "poly5", "tanh", "sigmoid")


def fit_poly5() -> tuple[float, ...]:
    """Minimax fit of x·σ(x·(a + b·s + c·s²)), s = min(x², 16), to x·Φ(x) on [−12, 12]."""
    import scipy.optimize
    import scipy.special

    x = np.linspace(-12, 12, 48_001)
    exact = x * scipy.special.ndtr(x)

    def log_max_error(c):
        s = np.minimum(x * x, 16.0)
        return np.log(np.abs(x * scipy.special.expit(x * (c[0] + s * (c[1] + c[2] * s))) - exact).max())

    result = scipy.optimize.minimize(log_max_error, [1.5958, 0.0714, 0.0], method="Nelder-Mead",
                                     options=dict(maxiter=20_000, xatol=1e-12, fatol=1e-12))  # fmt: skip
    for _ in range(3):
        result = scipy.optimize.minimize(log_max_error, result.x, method="Nelder-Mead",
                                         options=dict(maxiter=20_000, xatol=1e-12, fatol=1e-12))  # fmt: skip
    return tuple(float(v) for v in result.x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="re-derive the poly5 coefficients")
    args = parser.parse_args()

    import jax

    from tinymyo_jax.export import numerics
    from tinymyo_jax.export.export_form import ExportSpec, export_constants, export_function, reference_function
    from tinymyo_jax.export.pipeline import export_model
    from tinymyo_jax.export.tflite_file import read_tflite
    from tinymyo_jax.export.windows import synthetic_windows
    from tinymyo_jax.models.config import preset
    from tinymyo_jax.models.tinymyo import build_model

    results: dict = {"pointwise_max_error": {f: numerics.gelu_max_error(f) for f in ("erf", *FORMS)}}
    if args.fit:
        results["poly5_fit"] = fit_poly5()
    print(json.dumps(results, indent=2), flush=True)

    published = build_model(preset("tinymyo", head="classification", num_outputs=53, num_channels=16), seed=0)
    x = synthetic_windows(32, 16, 200, seed=1).emg
    reference = np.asarray(jax.jit(reference_function(published, ExportSpec(16, 200)))(x))
    results["published_model_max_deviation"] = {}
    for form in FORMS:
        spec = ExportSpec(16, 200, gelu=form)
        ours = np.asarray(jax.jit(export_function(export_constants(published, spec), published.config, spec))(x))
        results["published_model_max_deviation"][form] = float(np.abs(ours - reference).max())
        print(form, "published model deviation", results["published_model_max_deviation"][form], flush=True)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.export.conftest import CHANNELS, CLASSES, SAMPLES, train_small_classifier

    from tinymyo_jax.models.checkpoint import load_model_checkpoint

    results["int8_small_classifier"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model_checkpoint(train_small_classifier(Path(tmp) / "checkpoint"))
        calibration = synthetic_windows(200, CHANNELS, SAMPLES, num_classes=CLASSES, seed=0)
        evaluation = synthetic_windows(300, CHANNELS, SAMPLES, num_classes=CLASSES, seed=1)
        for form in FORMS:
            try:
                report = export_model(model, Path(tmp) / form, channels=CHANNELS, samples=SAMPLES, int8=True,
                                      calibration=calibration, evaluation=evaluation, int8_gelu=form, log=lambda _: None)  # fmt: skip
            except Exception as err:  # a form TFLM cannot run in int8: record why
                ops = sorted(read_tflite((Path(tmp) / form / "model_int8.tflite").read_bytes()).op_names) if (Path(tmp) / form / "model_int8.tflite").exists() else []
                results["int8_small_classifier"][form] = {"failed": str(err).strip().splitlines()[-1][:300], "ops": ops}
                print(form, "int8", results["int8_small_classifier"][form], flush=True)
                continue
            vs_float = report["quality"]["int8_tflm"]["vs_float"]
            results["int8_small_classifier"][form] = {
                "top1_agreement": vs_float["top1_agreement"],
                "relative_rms_error": vs_float["relative_rms_error"],
                "int8_form_vs_training_model": report["export_form"]["int8"]["deviation_from_training_model"]["max_abs_error"],
                "ops": len(report["int8"]["ops"]),
                "int8_bytes": report["int8"]["bytes"],
            }
            print(form, "int8", results["int8_small_classifier"][form], flush=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

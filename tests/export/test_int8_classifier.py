"""End to end: a classifier made by `tinymyo finetune` (real UCI gestures) exported by
`tinymyo export --int8`, checked independently of the export's own report (interpreters run in
child processes)."""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest

from tinymyo_jax.export.c_source import RESOLVER_METHODS
from tinymyo_jax.export.interpreters import InterpreterCrash, dequantize_output, quantize_input, run_model
from tinymyo_jax.export.tflite_file import check_integer_only, read_tflite
from tinymyo_jax.export.windows import ExportWindows, load_windows
from tinymyo_jax.models.checkpoint import load_model_checkpoint

from .conftest import CHANNELS, SAMPLES, UCI, held_out_windows
from .test_c_sources import check_generated_sources, needs_gxx

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def held_out(gesture_data_dir) -> ExportWindows:
    """The test subjects' windows: never trained on, calibrated on, or used for selection."""
    emg, labels = held_out_windows(gesture_data_dir)
    return ExportWindows(emg, labels, None, "UCI test subjects 31, 32")


def test_float_export_matches_jax_within_1e_4(int8_export, trained_classifier, held_out):
    """With the pretraining defaults' token identity: time_channel RoPE tables and the learned
    channel embedding folded into the patch embedding's bias."""
    out, _ = int8_export
    model = load_model_checkpoint(trained_classifier)
    assert model.config.rope == "time_channel" and model.config.channel_embedding == "learned"
    reference = np.asarray(model(jnp.asarray(held_out.emg)))
    outputs, _ = run_model(out / "model_float.tflite", held_out.emg[:, None], engine="litert")
    assert np.abs(outputs[:, 0] - reference).max() <= 1e-4


def test_int8_model_is_integer_only_with_int8_input_and_output(int8_export):
    out, report = int8_export
    summary = read_tflite((out / "model_int8.tflite").read_bytes())
    check_integer_only(summary)
    assert summary.io(0).dtype == summary.io(0, output=True).dtype == "INT8"
    assert not summary.float_tensors() and report["int8"]["integer_only"]


def _tflm_top1(path, windows: np.ndarray) -> np.ndarray:
    summary = read_tflite(path.read_bytes())
    raw, _ = run_model(path, quantize_input(windows[:, None], summary.io(0)), engine="tflm", processes=2)
    return dequantize_output(raw[:, 0], summary.io(0, output=True)).argmax(-1)


def test_quantised_models_in_tflm_keep_the_decisions_on_held_out_windows(int8_export, trained_classifier, held_out):
    """16x8 (int16 activations, int8 weights): >= 99% top-1 agreement with the training model
    and accuracy within one point, on the 100 test windows. Full int8: >= 99%. This model's
    input is not normalised per window (a random-init fine-tune): with the int8 input range set
    by the loudest calibration window (|x| 14.1) the test subjects' rest windows (RMS ~0.1) were
    about one input step and full int8 agreed on 95%; calibrated to the 99th percentile of |x|
    (windows.int8_input_limit) it agrees on 99% in TFLM (98% in LiteRT; docs/export.md, "The int8
    input range of an unnormalised model")."""
    out, _ = int8_export
    model = load_model_checkpoint(trained_classifier)
    reference = np.asarray(model(jnp.asarray(held_out.emg))).argmax(-1)
    accuracy = np.mean(reference == held_out.labels)
    assert accuracy >= 0.5  # a working classifier (3x chance), not a constant that happens to agree
    mixed = _tflm_top1(out / "model_int16x8.tflite", held_out.emg)
    agreement = float(np.mean(mixed == reference))
    assert agreement >= 0.99, f"16x8 (TFLM) vs JAX top-1 agreement {agreement:.4f}"
    assert abs(np.mean(mixed == held_out.labels) - accuracy) <= 0.01
    int8 = _tflm_top1(out / "model_int8.tflite", held_out.emg)
    assert np.mean(int8 == reference) >= 0.99, f"int8 (TFLM) vs JAX top-1 agreement {np.mean(int8 == reference):.4f}"


def test_tflm_runs_in_the_measured_arena_and_not_in_much_less(int8_export):
    out, report = int8_export
    measured = report["int8"]["tflm_arena"]["total"]
    summary = read_tflite((out / "model_int8.tflite").read_bytes())
    window = quantize_input(np.zeros((1, 1, CHANNELS, SAMPLES), np.float32), summary.io(0))
    run_model(out / "model_int8.tflite", window, engine="tflm", arena_size=measured)
    with pytest.raises(InterpreterCrash):
        run_model(out / "model_int8.tflite", window, engine="tflm", arena_size=int(measured * 0.8))


def test_generated_resolver_registers_exactly_the_models_ops(int8_export):
    out, report = int8_export
    ops = set(read_tflite((out / "model_int8.tflite").read_bytes()).op_names)
    registered = set(re.findall(r"resolver\.(Add\w+)\(\)", (out / "op_resolver.h").read_text()))
    assert registered == {RESOLVER_METHODS[op] for op in ops}
    kinds = re.search(r"kNumOps = (\d+);", (out / "op_resolver.h").read_text())
    assert kinds and int(kinds.group(1)) == len(ops)
    assert not ops & {"GELU", "SELECT", "SELECT_V2", "SIN", "COS", "TANH", "DEQUANTIZE"}
    assert set(report["c_sources"]["resolver_ops"]) == ops


def test_report_carries_every_measurement(int8_export):
    _, report = int8_export
    int8, flt, quality = report["int8"], report["float"], report["quality"]
    assert int8["bytes"] > 0 and int8["tflm_arena"]["total"] > 0 and int8["ops"]
    assert flt["vs_jax"]["max_abs_error"] <= 1e-4
    for engine in ("litert", "tflm"):
        assert int8["latency_ms"][engine]["median"] > 0 and flt["latency_ms"][engine]["median"] > 0
    # issue 23's bar for a random-init fine-tune (99 of the 100 test windows: see
    # test_quantised_models_in_tflm_keep_the_decisions_on_held_out_windows)
    assert quality["int8_tflm"]["vs_float"]["top1_agreement"] >= 0.99
    # the input range of a model without per-window normalisation: the 99th percentile of |x|,
    # well inside the loudest calibration window (14.1)
    assert 2.0 < int8["input_range"]["clip"] < 8.0 and int8["input_range"]["step"] < 0.07
    assert report["export_form"]["int8"]["attention"] == "ratio" and "SOFTMAX" not in report["int8"]["ops"]
    assert quality["int8_tflm"]["task"]["accuracy"] >= 0.5
    assert report["int16x8"]["bytes"] > 0 and report["int16x8"]["tflm_arena"]["total"] > 0
    assert quality["int16x8_tflm"]["vs_float"]["top1_agreement"] >= 0.99
    assert report["export_form"]["int8"]["deviation_from_training_model"]["max_abs_error"] < 5e-3
    layers = int8["layers"]["all"]
    assert layers and all(np.isfinite(row["relative_rms_error"]) for row in layers)
    assert report["c_sources"]["arena_bytes_to_reserve"] >= int8["tflm_arena"]["total"]


def test_export_for_demo_returns_the_report(trained_classifier, gesture_data_dir, tmp_path):
    from tinymyo_jax.data.source import WindowShards, prepared_metadata
    from tinymyo_jax.export.pipeline import export_for_demo, format_report

    # the training windows as records store them: 8 real channels, then 8 zero rows
    # 60 of the training windows: enough for a calibration and a held-out quarter, and quick
    windows = load_windows(f"{UCI}/train", channels=16, samples=SAMPLES, count=60, data_dir=gesture_data_dir)
    assert windows.emg.shape[1] == 16 and not windows.emg[:, CHANNELS:].any()
    # the real channel count travels with the prepared dataset
    channels = prepared_metadata(WindowShards(UCI, "train", data_dir=gesture_data_dir).directory)["channels"]
    assert channels == CHANNELS
    report = export_for_demo(trained_classifier, tmp_path / "demo", windows.emg, channels=channels,
                             labels=windows.labels, log=lambda _: None)
    assert report["model"]["input_shape"] == [1, CHANNELS, SAMPLES]  # the zero padding is not exported
    assert report["int8"]["integer_only"] and (tmp_path / "demo" / "model_data.cc").is_file()
    held_out = len(windows) - len(windows) * 3 // 4
    assert report["int8"]["calibration"]["windows"] == len(windows) - held_out
    assert report["quality"]["int8_tflm"]["windows"] == held_out
    assert "int8:" in format_report(report)


@needs_gxx
def test_int8_sources_and_the_mcu_example_compile(int8_export, tmp_path):
    """The export's C++ sources (int8) compile with the MCU example against the stub TFLM headers."""
    out, _ = int8_export
    check_generated_sources(out, tmp_path)
    header = (out / "model_data.h").read_text()
    assert "constexpr bool kModelIsInt8 = true;" in header and "kTensorArenaBytes" in header

"""Calibration and held-out evaluation from a prepared dataset split (synthetic NinaPro DB8,
a regression corpus, prepared at 200-sample windows), through `tinymyo export`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinymyo_jax.cli import main
from tinymyo_jax.errors import UserError
from tinymyo_jax.export.windows import load_windows


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from tests.data.prep_reference import build
    from tinymyo_jax.data.synth import write_raw_corpus

    root = tmp_path_factory.mktemp("prepared")
    write_raw_corpus("ninapro_db8", root / "raw", seed=0, num_subjects=1)
    build("ninapro_db8", root / "raw", root / "tfds", config="w200")
    return root / "tfds"


def test_windows_come_from_the_split_with_the_real_channels(prepared):
    windows = load_windows("ninapro_db8/w200/test", channels=16, samples=200, count=7, data_dir=prepared)
    assert windows.emg.shape == (7, 16, 200) and windows.emg.dtype == np.float32
    assert windows.targets.shape == (7, 200, 5) and windows.labels is None
    with pytest.raises(UserError, match="--samples 200"):
        load_windows("ninapro_db8/w200/test", channels=16, samples=1000, count=7, data_dir=prepared)
    with pytest.raises(UserError, match="<tfds dataset>/<split>"):
        load_windows("ninapro_db8", channels=16, samples=200, count=7, data_dir=prepared)


def test_the_calibration_rate_is_the_prepared_windows_rate(prepared):
    import argparse

    from tinymyo_jax.commands.export import _calibration_rate

    # DB8's w200 is 200 samples at the corpus's own 2 kHz
    assert _calibration_rate(argparse.Namespace(calibration="ninapro_db8/w200/train", data_dir=prepared)) == 2000.0
    assert _calibration_rate(argparse.Namespace(calibration="synthetic", data_dir=prepared)) is None


@pytest.mark.slow
def test_int8_regression_export_calibrates_on_train_and_scores_on_test(prepared, tmp_path, capsys):
    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.config import ModelConfig
    from tinymyo_jax.models.tinymyo import build_model

    # weights that learnt from 200-Hz windows, calibrated on 2-kHz ones: the export warns and goes on
    config = ModelConfig(embed_dim=32, depth=1, num_heads=2, head="regression", num_outputs=5, num_channels=16,
                         reg_target_len=200, input_rate_hz=200.0)  # fmt: skip
    checkpoint = save_model_checkpoint(tmp_path / "checkpoint", build_model(config)).parent
    code = main([
        "export", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"), "--int8",
        "--calibration", "ninapro_db8/w200/train", "--data-dir", str(prepared),
        "--calibration-windows", "64", "--eval-windows", "16",
    ])  # fmt: skip
    assert code == 0
    assert "warning: the encoder learnt from windows at 200 Hz, ninapro_db8/w200/train holds windows at 2000 Hz" in capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["model"]["input_shape"] == [1, 16, 200] and report["export_form"]["input_rate_hz"] == 200.0
    assert "ninapro_db8/w200/test" in report["evaluation"]["source"]
    assert "ninapro_db8/w200/train" in report["int8"]["calibration"]["source"]
    assert report["float"]["vs_jax"]["max_abs_error"] <= 1e-4
    assert set(report["quality"]["int8_tflm"]["task"]) == {"rmse", "mae"}
    assert report["quality"]["int8_tflm"]["vs_float"]["mean_cosine_similarity"] > 0.9


def test_int8_input_range_of_an_unnormalised_model_is_a_percentile_not_the_loudest_window():
    """Normalisation "none": the int8 input is calibrated to the 99th percentile of |x|, so one
    loud window does not set the grid of every quiet one; per-window normalised inputs keep
    their own range (docs/export.md, "The int8 input range of an unnormalised model")."""
    from tinymyo_jax.export.windows import ExportWindows, clip_windows, int8_input_limit

    rng = np.random.default_rng(0)
    emg = rng.standard_normal((200, 4, 100)).astype(np.float32)
    emg[0] *= 30.0  # one loud window in 200 (0.5% of the samples)
    limit = int8_input_limit(emg, "none")
    assert limit == pytest.approx(np.percentile(np.abs(emg), 99.0)) and limit < np.abs(emg).max() / 5
    assert int8_input_limit(emg, "window_scale") is None and int8_input_limit(emg, "minmax_channel") is None
    windows = ExportWindows(emg, None, None, "test")
    clipped = clip_windows(windows, limit)
    assert np.abs(clipped.emg).max() == pytest.approx(limit) and np.array_equal(clipped.emg[1:][np.abs(emg[1:]) < limit], emg[1:][np.abs(emg[1:]) < limit])
    assert clip_windows(windows, None) is windows

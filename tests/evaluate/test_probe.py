"""Linear probes end to end on synthetic prepared data: outputs, reproducibility, the feature
cache, checkpoints as encoders, regression, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinymyo_jax.cli import main as tinymyo
from tinymyo_jax.evaluate.config import probe_config
from tinymyo_jax.evaluate.encoders import params_hash
from tinymyo_jax.evaluate.probe import format_table, run_probe
from tinymyo_jax.models.checkpoint import params_of, save_model_checkpoint
from tinymyo_jax.models.config import preset
from tinymyo_jax.models.tinymyo import build_model


def _config(benchmark: str, data_dir: Path, **fields):
    config = probe_config(benchmark, "tiny")
    config.data.data_dir = str(data_dir)
    for name, value in fields.items():
        node = config
        *parents, leaf = name.split(".")
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    return config


def _numbers(results: dict) -> dict:
    """Everything that must repeat exactly: test metrics and selections of every method."""
    methods = {results["main"]: results["details"], **results["baselines"]}
    return {name: {"metrics": r["metrics"], "selection": r["selection"]} for name, r in methods.items()}


def test_a_probe_writes_results_report_plots_and_gives_the_same_numbers_twice(downstream_data_dir, tmp_path):
    config = _config("epn612", downstream_data_dir)
    first = run_probe(config, tmp_path / "first")
    run = tmp_path / "first"
    stored = json.loads((run / "results.json").read_text())
    assert stored["main"] == "random_encoder_probe" and set(stored["baselines"]) == {"classic_lda"}
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "per_subject_accuracy", "confusion_matrix"):
        assert key in stored["metrics"]
    assert stored["seeds"] == {"seed": 0, "random_encoder_seed": 0}
    assert stored["checkpoint"]["hash"] == first["checkpoint"]["hash"] and stored["wall_time_s"] > 0
    assert stored["data"]["split_sizes"] == {"train": 84, "validation": 12, "test": 12} and stored["data"]["channels"] == 8
    assert stored["details"]["selection"]["chosen"] in config.probe.l2_grid
    report = (run / "report.md").read_text()
    assert "| linear probe, random encoder" in report and "RMS/MAV/WL/ZC/SSC + LDA" in report
    for plot in stored["plots"]:
        assert (run / plot).stat().st_size > 5_000
    assert len(list((run / "features").glob("*.npz"))) == 6  # 3 splits x (encoder, classic)

    second = run_probe(config, tmp_path / "second")  # fresh workdir: everything recomputed
    assert _numbers(second) == _numbers(first)

    cached = {p: p.stat().st_mtime_ns for p in (run / "features").glob("*.npz")}
    again = run_probe(config, run)  # same workdir: features come from the cache
    assert {p: p.stat().st_mtime_ns for p in (run / "features").glob("*.npz")} == cached
    assert _numbers(again) == _numbers(first)


def test_a_checkpoint_is_probed_beside_a_random_encoder_of_its_architecture(downstream_data_dir, tmp_path):
    model = build_model(preset("tinyissimo", embed_dim=32, depth=2, num_heads=2, head="reconstruction"), seed=7)
    save_model_checkpoint(tmp_path / "pretrain_run" / "checkpoints", model, step=40)
    # a pretraining workdir is accepted as well as its checkpoints/ folder
    config = _config("epn612", downstream_data_dir, init=str(tmp_path / "pretrain_run"), **{"features.fusion": "mean"})
    results = run_probe(config, tmp_path / "probe")
    assert results["main"] == "probe"
    assert results["checkpoint"]["hash"] == params_hash(params_of(model)["encoder"])
    random_probe = results["baselines"]["random_encoder_probe"]
    assert random_probe["encoder"]["checkpoint_hash"] != results["checkpoint"]["hash"]
    assert results["details"]["feature_dim"] == random_probe["feature_dim"] == 32  # mean fusion: D features
    table = format_table(results)
    assert table.count("\n") == 4 and "linear probe, evaluated encoder" in table and "random encoder" in table


def test_a_regression_probe_reports_degrees_per_doa_and_draws_trajectories(downstream_data_dir, tmp_path):
    results = run_probe(_config("ninapro_db8", downstream_data_dir), tmp_path / "db8")
    metrics = results["metrics"]
    assert set(metrics["mae_per_target"]) == {f"doa_{i}" for i in range(1, 6)}
    assert metrics["mae"] > 0 and np.isfinite(metrics["rmse"]) and metrics["r2"] <= 1.0
    assert "classic_ridge" in results["baselines"]
    assert results["details"]["selection"]["metric"] == "mae"
    assert (tmp_path / "db8" / "plots" / "trajectories.png").stat().st_size > 10_000
    assert "MAE per degree of actuation" in (tmp_path / "db8" / "report.md").read_text()


def test_the_command_prints_the_table_and_bad_inputs_are_one_line_errors(downstream_data_dir, tmp_path, capsys):
    base = ["probe", "--config", "configs/probe/epn612.py:tiny", f"--config.data.data_dir={downstream_data_dir}"]
    assert tinymyo([*base, "--workdir", str(tmp_path / "cli"), "--config.baselines.classic=False"]) == 0
    out = capsys.readouterr().out
    assert "| linear probe, random encoder" in out and "results.json" in out
    assert tinymyo([*base, "--workdir", str(tmp_path / "x"), "--config.init=/nonexistent/run"]) == 2
    assert "no such checkpoint directory" in capsys.readouterr().err
    assert tinymyo([*base, "--workdir", str(tmp_path / "y"), "--config.features.pooling=median"]) == 2
    assert "features.pooling must be one of" in capsys.readouterr().err

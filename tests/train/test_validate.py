"""validate_run: the trainer's validation of a finished run, on one dataset (benchmarks/real_emg.py)."""

from __future__ import annotations

import pytest

from tinymyo_jax.config_files import load_config
from tinymyo_jax.train.pretrain import pretrain
from benchmarks.validate_run import validate_run

TINY = "configs/pretrain/smoke.py:tiny"


def test_validate_run_reproduces_the_trainers_final_validation_and_splits_a_mixture(pretrain_data_dir, tmp_path):
    # one dataset, one eval batch: validate_run must read the same windows with the same masks
    config = load_config(TINY, [f"data.data_dir={pretrain_data_dir}", "data.mixture={'ninapro_db6': 1.0}",
                                "total_steps=3", "eval_every_steps=3", "plot_every_steps=3", "eval_batches=1"])  # fmt: skip
    summary = pretrain(config, tmp_path / "run")
    again = validate_run(tmp_path / "run", "ninapro_db6", max_batches=1)
    for key, value in summary["validation"].items():
        assert again[key] == pytest.approx(value, rel=1e-6), key
    assert again["windows"] > 0
    # another dataset of the same run: different windows, so a different loss and baselines
    other = validate_run(tmp_path / "run", "emg2pose", max_batches=1)
    assert other["baseline_zero_masked_loss"] != pytest.approx(again["baseline_zero_masked_loss"], rel=1e-3)

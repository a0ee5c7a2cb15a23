"""config.evals: a linear probe during pretraining logs its accuracy every N steps, the same
numbers `tinymyo probe` gives on the checkpoint of that step; bad entries are one-line errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tinymyo_jax.config_files import load_config
from tinymyo_jax.errors import UserError
from tinymyo_jax.evaluate.config import probe_config
from tinymyo_jax.evaluate.probe import run_probe
from tinymyo_jax.train.pretrain import pretrain

TINY = "configs/pretrain/smoke.py:tiny"  # 6 steps, validation at 3 and 6
PROBE = {"type": "linear_probe", "every_steps": 4, "benchmark": "uci_emg", "max_windows": 24,
         "l2_grid": [1e-3, 1e-1, 10.0], "max_iterations": 50, "batch_size": 8}  # fmt: skip


@pytest.fixture(scope="module")
def labelled_data_dir(embedded_uci_one_per_split) -> Path:
    """Real UCI gestures: embedded subjects 01 / 25 / 31, one per split, prepared once per session
    (the probe reads at most 24 windows per split; the test compares two runs, not a score)."""
    return embedded_uci_one_per_split


def _config(pretrain_data_dir: Path, **evals):
    config = load_config(TINY, [f"data.data_dir={pretrain_data_dir}", "data.mixture={'ninapro_db6': 1.0}"])
    for name, entry in evals.items():
        config.evals[name] = entry
    return config


def _lines(workdir: Path, split: str) -> dict[int, dict]:
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r for r in records if r["split"] == split}


def test_a_linear_probe_is_logged_every_n_steps_with_the_numbers_of_tinymyo_probe(pretrain_data_dir, labelled_data_dir, tmp_path):
    config = _config(pretrain_data_dir, uci_probe={**PROBE, "data_dir": str(labelled_data_dir)})
    summary = pretrain(config, tmp_path / "run")
    probes = _lines(tmp_path / "run", "uci_probe")
    assert sorted(probes) == [4, 6]  # every 4 steps, and the last step
    for record in probes.values():
        for key in ("accuracy", "balanced_accuracy", "macro_f1"):
            assert math.isfinite(record[key]) and 0.0 <= record[key] <= 1.0, (key, record)
        assert record["l2"] in PROBE["l2_grid"] and record["seconds"] > 0
    assert summary["uci_probe"] == pytest.approx({k: v for k, v in probes[6].items() if k not in ("step", "split")})
    assert sorted(_lines(tmp_path / "run", "validation")) == [3, 6]  # the default evaluator is still there

    # the same probe run by `tinymyo probe` on the final checkpoint gives the logged numbers
    settings = probe_config("uci_emg")
    settings.init = str(tmp_path / "run" / "checkpoints")
    settings.data.data_dir = str(labelled_data_dir)
    settings.data.max_windows = PROBE["max_windows"]
    settings.probe.l2_grid = PROBE["l2_grid"]
    settings.probe.max_iterations = PROBE["max_iterations"]
    settings.data.batch_size = PROBE["batch_size"]
    settings.baselines.random_encoder = settings.baselines.classic = False
    results = run_probe(settings, tmp_path / "probe")
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        assert probes[6][key] == pytest.approx(results["metrics"][key], abs=1e-9), key
    assert probes[6]["l2"] == results["details"]["selection"]["chosen"]


@pytest.mark.parametrize("entry, message", [
    ({"type": "knn", "every_steps": 2}, "unknown type 'knn'"),
    ({**PROBE, "data_dir": "{missing}"}, "no prepared dataset 'uci_emg'"),
    ({**PROBE, "benchmark": ""}, "needs `benchmark`"),
    ({**PROBE, "every_steps": 0}, "every_steps must be an integer >= 1"),
    ({**PROBE, "max_window": 8}, "unknown option(s) ['max_window']"),
    ({"type": "masked_loss", "every_steps": 2}, "is a masked_loss evaluator too"),
])  # fmt: skip
def test_a_bad_evaluator_is_a_one_line_error_before_anything_is_written(tmp_path, entry, message):
    if entry.get("data_dir") == "{missing}":
        entry = {**entry, "data_dir": str(tmp_path / "missing")}
    config = _config(tmp_path / "tfds", bad=entry)  # checked before the mixture is read
    with pytest.raises(UserError, match=r"^config\.evals\.(bad|validation)[.: ]") as error:
        pretrain(config, tmp_path / "run")
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()

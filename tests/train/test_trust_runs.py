"""Issue 23 for training runs: a preempted run never reads as finished, and a resumed run logs
each step once.

Findings reproduced: 3 (SIGTERM after the preemption save exited 0 and summary.json looked like
a finished run, so `&& tinymyo export` exported a partial model), 10 (metrics.jsonl repeated
the rows logged after the last checkpoint when a run resumed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinymyo_jax.cli import main as tinymyo

REPO = Path(__file__).resolve().parents[2]
TINY = "configs/pretrain/smoke.py:tiny"  # 6 steps, checkpoints at 2, 4, 6
DEADLINE_S = 240


def _arguments(workdir: Path, data_dir: Path) -> list[str]:
    return ["pretrain", "--config", TINY, "--workdir", str(workdir), f"--config.data.data_dir={data_dir}"]


def _train_steps(workdir: Path) -> list[int]:
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [row["step"] for row in rows if row["split"] == "train"]


@pytest.mark.slow
def test_sigterm_saves_exits_143_and_the_summary_says_the_run_is_not_finished(pretrain_data_dir, tmp_path):
    workdir = tmp_path / "run"
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES="1", PYTHONUNBUFFERED="1")
    # one step at a time, so the signal arrives mid-run
    command = [sys.executable, "-m", "tinymyo_jax.cli", *_arguments(workdir, pretrain_data_dir), "--config.log_every_steps=1"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + DEADLINE_S
    while not (workdir / "metrics.jsonl").exists() or not _train_steps(workdir):
        assert process.poll() is None and time.time() < deadline, process.communicate()[1][-2000:]
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=DEADLINE_S)
    assert "preemption notice: saved step" in out
    assert process.returncode == 143, err[-2000:]  # `&& tinymyo export` stops here
    assert "not finished" in err and "Traceback" not in err
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["finished"] is False and summary["preempted"] is True and summary["end_step"] < 6

    assert tinymyo(_arguments(workdir, pretrain_data_dir)) == 0  # the same command resumes
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["finished"] is True and summary["preempted"] is False and summary["end_step"] == 6


@pytest.mark.slow
def test_a_resumed_run_logs_each_step_once(pretrain_data_dir, tmp_path):
    workdir = tmp_path / "run"
    assert tinymyo(_arguments(workdir, pretrain_data_dir)) == 0
    assert _train_steps(workdir) == [1, 2, 3, 4, 5, 6]
    # a run SIGKILLed after logging step 6 but before its checkpoint was committed
    shutil.rmtree(workdir / "checkpoints" / "6")
    assert tinymyo(_arguments(workdir, pretrain_data_dir)) == 0  # resumes from step 4
    assert _train_steps(workdir) == [1, 2, 3, 4, 5, 6]
    assert json.loads((workdir / "summary.json").read_text())["start_step"] == 4


# ---------------------------------------------------------------- finding 2: runs never mix


@pytest.fixture(scope="module")
def tiny_run(pretrain_data_dir, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("record") / "run"
    assert tinymyo(_arguments(workdir, pretrain_data_dir)) == 0
    return workdir


@pytest.mark.parametrize(
    "overrides, named",
    [(["--config.optimizer.lr=0.01"], ["training.optimizer.lr=0.003"]),
     (["--config.masking.ratio=0.75", "--config.loss.visible_weight=0.5"],
      ["training.masking.ratio=0.5", "training.loss.visible_weight=0.1"]),
     (["--config.total_steps=12"], ["training.total_steps=6"]),
     (["--config.data.normalization=none"], ["model.normalization='window_scale'"])],
)  # fmt: skip
def test_a_rerun_with_other_training_settings_is_refused_naming_them_before_anything_is_written(
        tiny_run, pretrain_data_dir, overrides, named, capsys):  # fmt: skip
    from tests.assertions import one_line_error, tree_digest

    before = tree_digest(tiny_run)
    assert tinymyo([*_arguments(tiny_run, pretrain_data_dir), *overrides]) == 2
    err = one_line_error(capsys)
    assert all(name in err for name in named) and "--config.workdir_mode=fresh" in err
    assert tree_digest(tiny_run) == before  # config.json included


def test_a_folder_of_the_users_own_files_is_refused_as_a_workdir(pretrain_data_dir, tmp_path, capsys):
    from tests.assertions import one_line_error, tree_digest

    workdir = tmp_path / "mine"
    workdir.mkdir()
    (workdir / "config.json").write_text('{"mine": true}')
    (workdir / "metrics.jsonl").write_text('{"step": 1, "split": "train", "loss": 9.0}\n')
    before = tree_digest(workdir)
    for mode in ("resume", "fresh"):
        assert tinymyo([*_arguments(workdir, pretrain_data_dir), f"--config.workdir_mode={mode}"]) == 2
        assert "holds no run of this trainer (config.json, metrics.jsonl)" in one_line_error(capsys)
    assert tree_digest(workdir) == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine"]

"""Fine-tuning runs through the training loop of pretraining (train/loop.py), so it is data
parallel over a device mesh: on 2 devices it must train exactly as on 1 (same per-step losses,
dropout on, same validation)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 300


def _finetune(workdir: Path, data_dir: Path, devices: int) -> str:
    command = [sys.executable, "-m", "tinymyo_jax.cli", "finetune", "--config", "configs/finetune/epn612.py:tiny",
               "--workdir", str(workdir), f"--config.data.data_dir={data_dir}", "--config.finetune.head_init=random",
               "--config.baselines.frozen_probe=False", "--config.baselines.classic=False",
               "--config.baselines.random_encoder=False"]  # fmt: skip  (only the training is compared)
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(devices), PYTHONUNBUFFERED="1")
    env.pop("XLA_FLAGS", None)
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=DEADLINE_S)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _records(workdir: Path, split: str) -> dict[int, dict]:
    records = {}
    for line in (workdir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["split"] == split:
            records[record["step"]] = record
    return records


@pytest.mark.slow
def test_finetuning_on_two_devices_gives_the_one_device_losses(downstream_data_dir, tmp_path):
    one = tmp_path / "one_device"
    two = tmp_path / "two_devices"
    _finetune(one, downstream_data_dir, 1)
    stdout = _finetune(two, downstream_data_dir, 2)
    assert "on 2 cpu device(s)" in stdout and "'data': 2" in stdout  # the batch really was split
    expected, got = _records(one, "train"), _records(two, "train")
    assert sorted(got) == sorted(expected) == list(range(1, 21))
    for step in expected:
        assert got[step]["loss"] == pytest.approx(expected[step]["loss"], rel=1e-5), f"step {step}"
    expected, got = _records(one, "validation"), _records(two, "validation")
    assert sorted(got) == sorted(expected) == [0, 10, 20]
    for step in expected:
        assert got[step]["loss"] == pytest.approx(expected[step]["loss"], rel=1e-5), f"validation at step {step}"

"""Synthetic prepared shards for the trainer's tests: synth -> prep, once per session."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinymyo_jax.cli import main as tinymyo


@pytest.fixture(scope="session")
def pretrain_data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pretrain_data")
    raw, tfds_dir = root / "raw", root / "tfds"
    assert tinymyo(["synth", "ninapro_db6", "emg2pose", "--out", str(raw), "--seed", "3"]) == 0
    for name in ("ninapro_db6", "emg2pose"):
        assert tinymyo(["prep", name, "--manual_dir", str(raw / name), "--data_dir", str(tfds_dir), "--no-progress"]) == 0
    return tfds_dir


def train_losses(workdir: Path) -> dict[int, float]:
    """Per-step training loss from metrics.jsonl; a step logged twice (re-run after a kill)
    keeps its last value."""
    losses = {}
    for line in (workdir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record["split"] == "train":
            losses[record["step"]] = record["loss"]
    return losses

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


@pytest.fixture(scope="session")
def gcs_pretrain_data_dir(pretrain_data_dir, gcs_bucket) -> str:
    """The same prepared shards, uploaded to the GCS emulator: a gs:// data_dir."""
    from tests.gcs_emulator import fresh_prefix
    from tinymyo_jax import storage

    url = fresh_prefix(gcs_bucket, "tfds")
    storage.copy_tree(pretrain_data_dir, url)
    return url


def train_losses(workdir) -> dict[int, float]:
    """Per-step training loss from metrics.jsonl; a step logged twice (re-run after a kill)
    keeps its last value."""
    losses = {}
    from tinymyo_jax import storage

    for line in storage.read_text(storage.path(workdir) / "metrics.jsonl").splitlines():
        record = json.loads(line)
        if record["split"] == "train":
            losses[record["step"]] = record["loss"]
    return losses

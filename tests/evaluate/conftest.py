"""Synthetic prepared downstream datasets for the evaluation tests: synth -> prep, once per session.

EPN-612 (classification: 8 channels x 1000 samples; 84 / 12 / 12 windows) and a short NinaPro
DB8 (regression: 16 channels x 1000 samples, 5 DoA targets; 44 / 44 / 8 windows).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tinymyo_jax.cli import main as tinymyo


@pytest.fixture(scope="session")
def downstream_data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("downstream_data")
    raw, tfds_dir = root / "raw", root / "tfds"
    assert tinymyo(["synth", "epn612", "--out", str(raw), "--seed", "1"]) == 0
    assert tinymyo(["synth", "ninapro_db8", "--out", str(raw), "--seed", "1", "--subjects", "1", "--duration-scale", "0.25"]) == 0
    for name in ("epn612", "ninapro_db8"):
        assert tinymyo(["prep", name, "--manual_dir", str(raw / name), "--data_dir", str(tfds_dir), "--no-progress"]) == 0
    return tfds_dir

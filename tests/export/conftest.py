"""Shared fixtures for the export tests: a classifier made by `tinymyo finetune` on prepared
synthetic EPN-612 gestures (the one training loop for classifiers), and its int8 export made
through the `tinymyo export` command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

CHANNELS, SAMPLES, CLASSES = 8, 1000, 6  # EPN-612's protocol: 8 channels x 1000 samples, 6 gestures
EPN612 = "epn612/w1000"
USERS = 4  # synthetic users: 168 / 24 / 24 windows (train / validation / test)


@pytest.fixture(scope="session")
def gesture_data_dir(tmp_path_factory) -> Path:
    """`tinymyo synth epn612` + `tinymyo prep epn612`: the prepared TFDS directory."""
    from tinymyo_jax.cli import main

    root = tmp_path_factory.mktemp("gestures")
    assert main(["synth", "epn612", "--out", str(root / "raw"), "--seed", "0", "--subjects", str(USERS)]) == 0
    assert main(["prep", "epn612", "--manual_dir", str(root / "raw" / "epn612"), "--data_dir", str(root / "tfds"),
                 "--no-progress"]) == 0  # fmt: skip
    return root / "tfds"


def held_out_windows(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The validation and test windows (never trained on, never calibrated on): emg (n, C, T), labels (n,)."""
    from tinymyo_jax.export.windows import load_windows

    parts = [load_windows(f"{EPN612}/{split}", channels=CHANNELS, samples=SAMPLES, count=0, data_dir=data_dir)
             for split in ("validation", "test")]  # fmt: skip
    return np.concatenate([p.emg for p in parts]), np.concatenate([p.labels for p in parts])


@pytest.fixture(scope="session")
def trained_classifier(gesture_data_dir, tmp_path_factory) -> Path:
    """`tinymyo finetune configs/finetune/epn612.py:tiny` from a random encoder (2 blocks, dim
    32); returns its selected model (WORKDIR/best)."""
    from tinymyo_jax.cli import main

    workdir = tmp_path_factory.mktemp("finetune") / "epn612"
    code = main([
        "finetune", "--config", str(Path(__file__).resolve().parents[2] / "configs/finetune/epn612.py:tiny"),
        "--workdir", str(workdir), f"--config.data.data_dir={gesture_data_dir}",
        "--config.baselines.random_encoder=False", "--config.baselines.classic=False",
    ])  # fmt: skip
    assert code == 0
    results = json.loads((workdir / "results.json").read_text())
    assert results["metrics"]["accuracy"] > 0.9, f"the fine-tuned test classifier did not learn: {results['metrics']}"
    return workdir / "best"


@pytest.fixture(scope="session")
def int8_export(trained_classifier, gesture_data_dir, tmp_path_factory) -> tuple[Path, dict]:
    """`tinymyo export --int8 --calibration epn612/w1000/train` of the fine-tuned classifier:
    (out, report). Calibration: the training windows; evaluation: the test split."""
    from tinymyo_jax.cli import main

    out = tmp_path_factory.mktemp("export") / "int8"
    code = main([
        "export", "--checkpoint", str(trained_classifier), "--out", str(out), "--int8", "--data-dir", str(gesture_data_dir),
        "--calibration", f"{EPN612}/train", "--calibration-windows", "300", "--eval", f"{EPN612}/test", "--eval-windows", "0",
    ])  # fmt: skip
    assert code == 0
    return out, json.loads((out / "report.json").read_text())

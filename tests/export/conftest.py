"""Shared fixtures for the export tests: a classifier made by `tinymyo finetune` on the real UCI
gestures embedded in the package (the one training loop for classifiers), and its int8 export
made through the `tinymyo export` command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

CHANNELS, SAMPLES, CLASSES = 8, 1000, 6  # UCI's protocol: 8 Myo channels x 1000 samples, 6 gestures
UCI = "uci_emg/w1000"


@pytest.fixture(scope="session")
def gesture_data_dir(embedded_uci) -> Path:
    """The 9 embedded UCI subjects, prepared once per session (TinyMyo's subject split: 221 / 87 /
    100 windows; the int8 agreement thresholds were measured on their 100 test windows)."""
    return embedded_uci


def held_out_windows(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The test subjects' 100 windows (never trained on, calibrated on, or used to select the
    fine-tuning step): emg (n, C, T), labels (n,)."""
    from tinymyo_jax.export.windows import load_windows

    test = load_windows(f"{UCI}/test", channels=CHANNELS, samples=SAMPLES, count=0, data_dir=data_dir)
    return test.emg, test.labels


@pytest.fixture(scope="session")
def trained_classifier(gesture_data_dir, tmp_path_factory) -> Path:
    """`tinymyo finetune configs/finetune/uci_emg.py:tiny` from a random encoder with the
    pretraining defaults' token identity, time_channel RoPE and a learned channel embedding
    (2 blocks, dim 32; its head starts as that encoder's linear probe); returns its selected
    model (WORKDIR/best)."""
    from tinymyo_jax.cli import main

    workdir = tmp_path_factory.mktemp("finetune") / "uci_emg"
    code = main([
        "finetune", "--config", str(Path(__file__).resolve().parents[2] / "configs/finetune/uci_emg.py:tiny"),
        "--workdir", str(workdir), f"--config.data.data_dir={gesture_data_dir}",
        "--config.baselines.random_encoder=False", "--config.baselines.classic=False",
        # the end-to-end export covers the channel-aware RoPE (its tables vary by channel as well
        # as time; "time" is covered by the CLI and dataset exports) and the learned channel
        # embedding, which the export folds into the patch embedding's bias
        "--config.model.rope=time_channel", "--config.model.channel_embedding=learned",
    ])  # fmt: skip
    assert code == 0
    results = json.loads((workdir / "results.json").read_text())
    assert results["metrics"]["accuracy"] >= 0.5, f"the fine-tuned test classifier is near chance: {results['metrics']}"
    return workdir / "best"


@pytest.fixture(scope="session")
def int8_export(trained_classifier, gesture_data_dir, tmp_path_factory) -> tuple[Path, dict]:
    """`tinymyo export --int8 --int16x8 --calibration uci_emg/w1000/train` of the fine-tuned
    classifier: (out, report). Calibration: the training windows; evaluation: the test split."""
    from tinymyo_jax.cli import main

    out = tmp_path_factory.mktemp("export") / "int8"
    code = main([
        "export", "--checkpoint", str(trained_classifier), "--out", str(out), "--int8", "--int16x8", "--data-dir", str(gesture_data_dir),
        "--calibration", f"{UCI}/train", "--calibration-windows", "300", "--eval", f"{UCI}/test", "--eval-windows", "0",
    ])  # fmt: skip
    assert code == 0
    return out, json.loads((out / "report.json").read_text())

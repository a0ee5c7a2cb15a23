"""Shared fixtures for the export tests: a small classifier trained on separable synthetic
gesture windows, and its int8 export made through the `tinymyo export` command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CHANNELS, SAMPLES, CLASSES = 8, 200, 6
TRAIN_STEPS = 200


def train_small_classifier(directory: Path) -> Path:
    """Train a 2-block, dim-64 TinyMyo classifier (time_channel RoPE) on synthetic gesture windows
    (8 x 200, 6 classes; ~1 min on two CPU cores) and save it as an orbax checkpoint."""
    from tinymyo_jax.export.windows import synthetic_windows, train_classifier
    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.config import preset
    from tinymyo_jax.models.tinymyo import build_model

    train = synthetic_windows(768, CHANNELS, SAMPLES, num_classes=CLASSES, seed=0)
    config = preset(
        "tinymyo", depth=2, embed_dim=64, num_heads=2, head="classification", num_outputs=CLASSES,
        num_channels=CHANNELS, fusion="concat", dropout=0.0, attention_dropout=0.0, drop_path=0.0,
        rope="time_channel",  # the end-to-end export covers the channel-aware RoPE (its tables vary
                              # by channel as well as time); "time" is covered by the other exports
    )  # fmt: skip
    model = build_model(config, seed=0)
    loss = train_classifier(model, train, TRAIN_STEPS, learning_rate=1e-3, batch_size=32)
    assert float(loss) < 0.2, f"the test classifier did not train (loss {float(loss):.3f})"
    return save_model_checkpoint(directory, model).parent


@pytest.fixture(scope="session")
def trained_classifier(tmp_path_factory) -> Path:
    return train_small_classifier(tmp_path_factory.mktemp("classifier") / "checkpoint")


@pytest.fixture(scope="session")
def int8_export(trained_classifier, tmp_path_factory) -> tuple[Path, dict]:
    """`tinymyo export --int8 --calibration synthetic` of the trained classifier: (out, report).

    Calibration: 200 synthetic windows (seed 0, the training distribution); evaluation: 300
    held-out synthetic windows (seed 1, never trained on).
    """
    from tinymyo_jax.cli import main

    out = tmp_path_factory.mktemp("export") / "int8"
    code = main([
        "export", "--checkpoint", str(trained_classifier), "--out", str(out), "--int8",
        "--channels", str(CHANNELS), "--samples", str(SAMPLES),
        "--calibration", "synthetic", "--calibration-windows", "200", "--eval-windows", "300",
    ])  # fmt: skip
    assert code == 0
    return out, json.loads((out / "report.json").read_text())

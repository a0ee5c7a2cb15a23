"""Shared test fixtures: where the golden reference files and the real recordings live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def golden_dir() -> Path:
    """../shared/golden beside the checkout (CI lays shared/ there); override with TINYMYO_GOLDEN."""
    return Path(os.environ.get("TINYMYO_GOLDEN", REPO.parent / "shared" / "golden"))


def real_dir() -> Path:
    """../shared/real beside the checkout (CI lays shared/ there); override with TINYMYO_REAL."""
    return Path(os.environ.get("TINYMYO_REAL", REPO.parent / "shared" / "real"))


@pytest.fixture(scope="session")
def golden() -> Path:
    path = golden_dir()
    if not (path / "pretraining.safetensors").is_file():
        pytest.fail(f"golden reference files not found at {path}; set TINYMYO_GOLDEN")
    return path


@pytest.fixture(scope="session")
def real_uci() -> Path:
    """The real UCI "EMG data for gestures" files (9 subjects, original layout): the folder
    holding EMG_data_for_gestures-master/. Missing is a failure, not a skip."""
    path = real_dir() / "uci_emg"
    if not (path / "EMG_data_for_gestures-master").is_dir():
        pytest.fail(f"real UCI EMG files not found at {path}/EMG_data_for_gestures-master; set TINYMYO_REAL")
    return path


@pytest.fixture(scope="session")
def gcs_bucket(tmp_path_factory) -> str:
    """`gs://BUCKET` on a local GCS emulator (tests/gcs_emulator.py), started once per session
    on 127.0.0.1 and stopped at its end; the emulator's variables are set while it runs."""
    from tests import gcs_emulator

    yield from gcs_emulator.start(tmp_path_factory.mktemp("gcs_cache"))

"""Shared test fixtures: where the golden reference files live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def golden_dir() -> Path:
    """../shared/golden beside the checkout (CI lays shared/ there); override with TINYMYO_GOLDEN."""
    return Path(os.environ.get("TINYMYO_GOLDEN", REPO.parent / "shared" / "golden"))


@pytest.fixture(scope="session")
def golden() -> Path:
    path = golden_dir()
    if not (path / "pretraining.safetensors").is_file():
        pytest.fail(f"golden reference files not found at {path}; set TINYMYO_GOLDEN")
    return path

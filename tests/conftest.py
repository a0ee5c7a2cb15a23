"""Shared test fixtures: where the golden reference files and the real recordings live, and the
real UCI gestures prepared once per session (preparing is read-only for the tests that use it)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# One XLA compilation cache for the whole session, the pytest process and every command it starts
# (they inherit the environment): the tiny models' train, eval and feature steps are the same
# programs in many tests, and each compile costs seconds to minutes of CPU. A cache hit loads the
# executable a compile of the same program on the same backend and devices gives, so no result
# changes. A cache the caller set is used and kept; ours is removed at the end of the session.
_OWN_JAX_CACHE = "JAX_COMPILATION_CACHE_DIR" not in os.environ
if _OWN_JAX_CACHE:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="tinymyo_tests_xla_cache_")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


def pytest_unconfigure(config) -> None:
    if _OWN_JAX_CACHE:
        shutil.rmtree(os.environ.pop("JAX_COMPILATION_CACHE_DIR"), ignore_errors=True)


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


# One subject per split of TinyMyo's subject split (train 1-24, validation 25-30, test 31-36):
# real gestures in every split in a third of the preparation time of all 9 embedded subjects.
UCI_ONE_PER_SPLIT = (1, 25, 31)


@pytest.fixture(scope="session")
def embedded_uci(tmp_path_factory) -> Path:
    """The 9 real UCI subjects embedded in the package prepared by `embedded.prepare` (TinyMyo's
    subject split: 221 / 87 / 100 windows); returns the data_dir. Shared: tests only read it."""
    from tinymyo_jax.data import embedded

    data_dir = tmp_path_factory.mktemp("embedded_uci") / "tfds"
    assert embedded.prepare(data_dir) == data_dir / "uci_emg" / "w1000" / "1.0.0"  # returns the dataset folder
    return data_dir


@pytest.fixture(scope="session")
def embedded_uci_one_per_split(tmp_path_factory) -> Path:
    """Embedded subjects 01 / 25 / 31 (one per split) prepared by `tinymyo prep uci_emg`; returns
    the data_dir. For tests that need real gestures but not the 9-subject set's sizes."""
    from tinymyo_jax.cli import main as tinymyo
    from tinymyo_jax.data import embedded

    base = tmp_path_factory.mktemp("embedded_uci_3")
    raw = embedded.write_raw(base / "raw", subjects=UCI_ONE_PER_SPLIT)
    assert tinymyo(["prep", embedded.DATASET, "--manual_dir", str(raw), "--data_dir", str(base / "tfds"), "--no-progress"]) == 0
    return base / "tfds"


@pytest.fixture(scope="session")
def real_uci_prepared(real_uci, tmp_path_factory) -> Path:
    """The real UCI files (`real_uci`) prepared by `tinymyo prep uci_emg`; returns the data_dir."""
    from tinymyo_jax.cli import main as tinymyo

    data_dir = tmp_path_factory.mktemp("real_uci") / "tfds"
    assert tinymyo(["prep", "uci_emg", "--manual_dir", str(real_uci), "--data_dir", str(data_dir), "--no-progress"]) == 0
    return data_dir

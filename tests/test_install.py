"""The package as a user gets it: a wheel installed (not editable) into a fresh virtual environment,
run from a directory outside the checkout. Catches what an editable install hides: files the demo
or a preset needs that the wheel does not ship."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What setuptools reads to build the wheel (pyproject.toml, setup.py, the package, the presets).
BUILD_INPUTS = ("pyproject.toml", "setup.py", "README.md", "tinymyo_jax", "configs")


def _run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def _build_wheel(tmp_path: Path) -> Path:
    """Build from a copy, so the checkout gets no build/ or *.egg-info; offline, with the setuptools
    of the test environment (build isolation would download one)."""
    source = tmp_path / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w",
          str(wheels), str(source)], cwd=tmp_path)
    (wheel,) = wheels.glob("tinymyo_jax-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    """A new venv holding only the wheel; the dependencies come from the test environment's
    site-packages through a .pth file (no network). Its path lines only extend sys.path: the .pth
    files there (the checkout's editable install) do not run, so the checkout is not importable."""
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    # installed before the .pth exists, so pip sees an empty environment
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
         cwd=tmp_path)
    site_packages = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              cwd=tmp_path).strip())
    dependencies = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site_packages / "test_dependencies.pth").write_text("".join(f"{path}\n" for path in dependencies))
    return venv


@pytest.mark.slow
def test_the_installed_wheel_runs_the_demo_and_a_shipped_preset_outside_the_checkout(tmp_path):
    wheel = _build_wheel(tmp_path)
    venv = _fresh_venv(tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"  # no configs/ here, and not the checkout
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["JAX_PLATFORMS"] = "cpu"  # the test environment may hold libtpu; this host has no TPU

    where = _run([str(venv / "bin" / "python"), "-c", "import tinymyo_jax; print(tinymyo_jax.__file__)"], elsewhere, env)
    assert Path(where.strip()).is_relative_to(venv), f"tinymyo_jax imported from {where.strip()}, not the fresh venv"

    tinymyo = str(venv / "bin" / "tinymyo")
    out = _run([tinymyo, "demo", "--workdir", "demo", "--until", "prep"], elsewhere, env)
    assert "bit-identical: True" in out and "stopped after stage 5 (prep)" in out
    for dataset in ("ninapro_db6", "emg2pose", "uci_emg"):  # synthetic corpora and the embedded real subjects
        assert any((elsewhere / "demo" / "tfds" / dataset).rglob("*.array_record*")), f"{dataset} was not prepared"
    assert not (elsewhere / "demo" / "pretrain").exists()  # --until stops where it is told

    help_text = _run([tinymyo, "pretrain", "--help"], elsewhere, env)
    assert "Presets: pretrain/real_small, pretrain/smoke, pretrain/tinyissimo, pretrain/tinymyo" in " ".join(help_text.split())
    _run([tinymyo, "pretrain", "--config", "pretrain/smoke:tiny", "--workdir", "smoke", "--config.total_steps=2",
          "--config.data.data_dir=demo/tfds"], elsewhere, env)
    summary = json.loads((elsewhere / "smoke" / "summary.json").read_text())
    assert summary["end_step"] == 2
    assert (elsewhere / "smoke" / "checkpoints").is_dir() and (elsewhere / "smoke" / "metrics.jsonl").is_file()

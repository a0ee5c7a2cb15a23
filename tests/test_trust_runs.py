"""Issue 23, runs / checkpoints / command line: every finding reproduced as the user met it.

Each test names its finding (the issue's numbering) and fails on the code before the fix.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinymyo_jax.cli import main as tinymyo
from tinymyo_jax.platforms import default_platforms
from tests.assertions import one_line_error, tree_digest

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- a quiet command line


def test_summary_prints_nothing_on_stderr_on_a_host_without_an_accelerator():
    # the user set nothing: the venv's libtpu must not print its TPU_WORKER_HOSTNAMES errors
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "TPU_"))}
    env["PYTHONPATH"] = str(REPO)
    # libtpu stays silent while another process holds /tmp/libtpu_lockfile (a concurrent test):
    # let it initialise as it would alone on this host
    env["ALLOW_MULTIPLE_LIBTPU_LOAD"] = "1"
    done = subprocess.run([sys.executable, "-m", "tinymyo_jax.cli", "summary"], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0 and "parameters" in done.stdout
    assert done.stderr == ""


def test_accelerator_hosts_and_explicit_choices_keep_jax_defaults():
    assert default_platforms({}, tpu=False, gpu=False) == "cpu"
    assert default_platforms({}, tpu=True, gpu=False) is None  # a TPU VM: JAX picks the TPU
    assert default_platforms({}, tpu=False, gpu=True) is None  # a GPU host: its plugin is found
    assert default_platforms({"JAX_PLATFORMS": "tpu"}, tpu=False, gpu=False) is None  # the user asked
    assert default_platforms({"TPU_WORKER_HOSTNAMES": "10.0.0.2"}, tpu=False, gpu=False) is None


# ---------------------------------------------------------------- finding 5: export --out


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.config import preset
    from tinymyo_jax.models.tinymyo import build_model

    directory = tmp_path_factory.mktemp("trust") / "checkpoint"
    save_model_checkpoint(directory, build_model(preset("tinyissimo", embed_dim=32, depth=1, num_heads=2)))
    return directory


def test_export_refuses_an_earlier_export_and_force_replaces_only_the_exported_files(tiny_checkpoint, tmp_path, capfd):
    out = tmp_path / "export"
    out.mkdir()
    (out / "model_int8.tflite").write_bytes(b"an earlier int8 export")
    (out / "report.json").write_text("{}")
    (out / "notes.txt").write_text("the user's own notes")
    before = tree_digest(out)
    command = ["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out), "--channels", "4", "--samples", "100",
               "--eval-windows", "8"]  # fmt: skip
    assert tinymyo(command) == 2
    assert "--force" in one_line_error(capfd)
    assert tree_digest(out) == before

    assert tinymyo([*command, "--force"]) == 0
    printed = capfd.readouterr()
    assert (out / "notes.txt").read_text() == "the user's own notes"
    # the old int8 model would not match the new float C sources: removed, and said so
    assert not (out / "model_int8.tflite").exists() and f"removed {out / 'model_int8.tflite'}" in printed.out
    assert (out / "model_float.tflite").is_file() and (out / "report.json").read_text() != "{}"
    # TensorFlow's converter notes go to the export's log, not the terminal
    assert "W0000" not in printed.err and "port.cc" not in printed.err
    assert "Ignored output_format" in (out / "converter.log").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]  # no staging folder left


# ---------------------------------------------------------------- finding 8: config values


@pytest.mark.parametrize(
    "override, phrase",
    [("--config.optimizer.lr=-0.001", "config.optimizer.lr must be > 0"),
     ("--config.masking.ratio=1.5", "config.masking.ratio must be strictly between 0 and 1"),
     ("--config.masking.ratio=-0.5", "config.masking.ratio must be strictly between 0 and 1"),
     ("--config.model.dropout=1.0", "config.model.dropout must be in [0, 1)")],
)  # fmt: skip
def test_pretrain_config_values_out_of_range_are_one_line_errors(tmp_path, override, phrase, capsys):
    workdir = tmp_path / "run"
    assert tinymyo(["pretrain", "--config", "pretrain/smoke:tiny", "--workdir", str(workdir), override]) == 2
    assert phrase in one_line_error(capsys)
    assert not workdir.exists()


def test_an_unknown_pretrain_preset_variant_is_refused_as_probe_presets_refuse(tmp_path, capsys):
    workdir = tmp_path / "run"
    assert tinymyo(["pretrain", "--config", "pretrain/smoke:bogus", "--workdir", str(workdir)]) == 2
    assert "unknown config variant 'bogus'; choose from reference, tiny" in one_line_error(capsys)
    assert tinymyo(["probe", "--config", "probe/epn612:bogus", "--workdir", str(workdir)]) == 2
    assert "unknown config variant 'bogus'" in one_line_error(capsys)
    assert not workdir.exists()

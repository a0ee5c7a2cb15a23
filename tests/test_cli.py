"""The `tinymyo` command line: help, summary, import-torch, and one-line errors for user mistakes."""

from __future__ import annotations

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

from tinymyo_jax.cli import main
from tinymyo_jax.models.checkpoint import load_model_checkpoint, save_model_checkpoint
from tinymyo_jax.models.torch_io import load_torch_checkpoint
from tinymyo_jax.models.config import preset
from tinymyo_jax.models.tinymyo import build_model, map_over_batch


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("demo", "summary", "import-torch"):
        assert command in out


def test_unknown_command_is_an_error_not_a_traceback(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_summary_prints_the_model_the_pretraining_config_builds(capsys):
    """Issue 22: `tinymyo summary` shows what `tinymyo pretrain` would build (train/config.py's
    rope and channel embedding), not ModelConfig's bare defaults."""
    assert main(["summary"]) == 0
    out = capsys.readouterr().out
    assert "rope=time_channel, channel embedding learned" in out
    assert "channel_embed        3,072" in out and "3,566,592" in out and "800 tokens" in out


def test_summary_of_a_checkpoint_names_the_rate_of_its_windows(tmp_path, capsys):
    model = build_model(preset("tinyissimo", head="none", input_rate_hz=200.0, embed_dim=16, depth=1, num_heads=2))
    save_model_checkpoint(tmp_path / "ckpt", model)
    assert main(["summary", "--checkpoint", str(tmp_path / "ckpt"), "--channels", "8", "--samples", "200"]) == 0
    assert "windows at 200 Hz (1 s, patches of 100 ms)" in capsys.readouterr().out
    assert main(["summary"]) == 0  # a config, not a checkpoint: no rate yet
    assert "windows at an unrecorded rate" in capsys.readouterr().out


def test_summary_reference_prints_published_parameter_counts(capsys):
    assert main(["summary", "--reference"]) == 0
    out = capsys.readouterr().out
    assert "rope=reference, channel embedding none" in out
    assert "3,563,520" in out and "3,567,380" in out and "800 tokens" in out


def test_summary_rejects_a_length_that_is_not_a_multiple_of_the_patch(capsys):
    assert main(["summary", "--samples", "1010"]) == 2
    assert "multiple of the patch size 20" in capsys.readouterr().err


def test_import_torch_writes_a_checkpoint_the_model_loads_from(golden, tmp_path, capsys):
    out_dir = tmp_path / "imported"
    source = golden / "classification_perturbed.safetensors"
    assert main(["import-torch", "--safetensors", str(source), "--out", str(out_dir), "--num-heads", "2"]) == 0
    assert "head classification (5 outputs)" in capsys.readouterr().out
    restored = load_model_checkpoint(out_dir)
    io = np.load(golden / "classification_perturbed_io.npz")
    np.testing.assert_allclose(np.asarray(restored(jnp.asarray(io["x"]))), io["output"], atol=1e-4)
    # A second import into the same directory needs --force.
    assert main(["import-torch", "--safetensors", str(source), "--out", str(out_dir), "--num-heads", "2"]) == 2
    assert "pass --force" in capsys.readouterr().err


def test_import_torch_reports_a_bad_file_in_one_line(tmp_path):
    bad = tmp_path / "not_a_checkpoint.safetensors"
    bad.write_bytes(b"nonsense")
    result = subprocess.run(
        [sys.executable, "-m", "tinymyo_jax.cli", "import-torch", "--safetensors", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "not a readable safetensors file" in result.stderr


def test_micro_batched_forward_equals_whole_batch():
    model = build_model(preset("tinyissimo"))
    x = jax.random.normal(jax.random.key(0), (4, 4, 200))
    whole = model(x)
    mapped = map_over_batch(lambda xb: model(xb), x, micro_batch=1)
    np.testing.assert_allclose(np.asarray(mapped), np.asarray(whole), atol=1e-5)

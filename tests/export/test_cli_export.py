"""`tinymyo export` speaks to the user: one-line errors for mistakes, no tracebacks."""

from __future__ import annotations

import pytest

from tinymyo_jax.cli import main


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.config import ModelConfig
    from tinymyo_jax.models.tinymyo import build_model

    config = ModelConfig(embed_dim=16, depth=1, num_heads=2, head="classification", num_outputs=3, num_channels=4)
    return save_model_checkpoint(tmp_path_factory.mktemp("ckpt") / "small", build_model(config)).parent


def test_export_is_a_registered_command(capsys):
    assert main(["--help"]) == 0
    assert "export" in capsys.readouterr().out


def test_int8_without_calibration_is_a_one_line_error(tmp_path, capsys):
    assert main(["export", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "out"), "--int8"]) == 2
    assert "--int8 needs --calibration" in capsys.readouterr().err


def test_missing_checkpoint_is_a_one_line_error(tmp_path, capsys):
    assert main(["export", "--checkpoint", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")]) == 2
    assert "no such checkpoint directory" in capsys.readouterr().err


def test_unprepared_calibration_dataset_is_a_one_line_error(small_checkpoint, tmp_path, capsys):
    code = main([
        "export", "--checkpoint", str(small_checkpoint), "--out", str(tmp_path / "out"), "--int8",
        "--calibration", "ninapro_db5/train", "--data-dir", str(tmp_path / "empty"),
    ])  # fmt: skip
    assert code == 2
    assert "no prepared dataset 'ninapro_db5'" in capsys.readouterr().err


def test_too_many_channels_for_a_concat_head_is_a_one_line_error(small_checkpoint, tmp_path, capsys):
    code = main(["export", "--checkpoint", str(small_checkpoint), "--out", str(tmp_path / "out"), "--channels", "8", "--samples", "100"])
    assert code == 2
    assert "export at most that many (--channels 4)" in capsys.readouterr().err

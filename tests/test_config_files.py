"""Configs as code: loading get_config(arg) files (ml_collections.config_flags), shipped presets and typed overrides."""

from __future__ import annotations

import pytest

from tinymyo_jax.config_files import (
    apply_overrides,
    list_presets,
    load_config,
    preset_root,
    resolve_config_path,
    split_config_overrides,
)
from tinymyo_jax.errors import UserError
from tinymyo_jax.train.config import base_config

SMOKE = "configs/pretrain/smoke.py"


def test_config_files_load_with_and_without_an_argument():
    assert load_config(SMOKE).total_steps == 300
    assert load_config(SMOKE + ":tiny").total_steps == 6
    paper = load_config("configs/pretrain/tinymyo.py")
    assert (paper.optimizer.lr, paper.optimizer.b2, paper.global_batch_size, paper.masking.ratio) == (1e-4, 0.98, 512, 0.5)


def test_overrides_are_converted_to_the_fields_type():
    config = base_config()
    apply_overrides(config, ["optimizer.lr=3e-4", "total_steps=12", "data.use_channel_mask=false", "data.data_dir=/tmp/x"])
    assert config.optimizer.lr == 3e-4 and isinstance(config.optimizer.lr, float)
    assert config.total_steps == 12 and config.data.use_channel_mask is False and config.data.data_dir == "/tmp/x"


def test_mixture_takes_new_datasets():
    config = base_config()
    apply_overrides(config, ["data.mixture.ninapro_db5=0.5", "data.mixture.generic/lab=2"])
    assert config.data.mixture["ninapro_db5"] == 0.5 and config.data.mixture["generic/lab"] == 2.0
    apply_overrides(config, ["data.mixture={'emg2pose': 1.0}"])  # the whole mapping replaced
    assert dict(config.data.mixture) == {"emg2pose": 1.0}


@pytest.mark.parametrize(
    "assignment,message",
    [("optimizer.lrr=1", "unknown config field 'optimizer.lrr' .did you mean 'optimizer.lr'"),
     ("total_steps=abc", "total_steps=abc: invalid literal for int"), ("data.use_channel_mask=3", "Non-boolean"),
     ("nosuch.field=1", "unknown config field 'nosuch'"), ("total_steps", "must look like"),
     ("data.mixture.ninapro_db5=abc", "is a number")],
)
def test_bad_overrides_are_one_line_errors(assignment, message):
    with pytest.raises(UserError, match=message):
        apply_overrides(base_config(), [assignment])


def test_overrides_are_separated_from_other_arguments():
    rest, overrides = split_config_overrides(["--workdir", "w", "--config.seed=3", "--config.total_steps", "7"])
    assert rest == ["--workdir", "w"] and overrides == ["seed=3", "total_steps=7"]


def test_missing_config_file_is_a_user_error():
    with pytest.raises(UserError, match="not found, and it names no shipped preset .presets: finetune/epn612"):
        load_config("configs/pretrain/nope.py")


def test_presets_are_named_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no configs/ here: every form names the shipped preset
    expected = preset_root() / "pretrain" / "smoke.py"
    for name in ("configs/pretrain/smoke.py", "pretrain/smoke.py", "pretrain/smoke", "tinymyo_jax/configs/pretrain/smoke.py"):
        assert resolve_config_path(name) == expected
    assert load_config("pretrain/smoke:tiny", ["total_steps=2"]).total_steps == 2
    assert {"pretrain/smoke", "pretrain/tinymyo", "probe/uci_emg", "finetune/uci_emg"} <= set(list_presets())
    # a file of the user's own wins over a preset of the same name
    own = tmp_path / "configs" / "pretrain" / "smoke.py"
    own.parent.mkdir(parents=True)
    own.write_text("from tinymyo_jax.train.config import base_config\n\ndef get_config(arg=None):\n"
                   "    config = base_config()\n    config.total_steps = 3\n    return config\n")
    assert load_config("configs/pretrain/smoke.py").total_steps == 3


def test_a_broken_config_file_is_a_user_error_and_leaves_nothing_behind(tmp_path):
    good, bad, raising = tmp_path / "good.py", tmp_path / "bad.py", tmp_path / "raising.py"
    good.write_text("from tinymyo_jax.train.config import base_config\n\ndef get_config(arg=None):\n    return base_config()\n")
    bad.write_text("answer = 42\n")
    raising.write_text("def get_config(arg=None):\n    raise ValueError('no such variant: ' + str(arg))\n")
    load_config(str(good))
    # config_flags re-executes every file into one cached module: the previous get_config must not survive
    with pytest.raises(UserError, match="defines no get_config"):
        load_config(str(bad))
    with pytest.raises(UserError, match="failed to load: .*no such variant: x"):
        load_config(f"{raising}:x")

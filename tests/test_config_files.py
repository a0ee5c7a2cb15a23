"""Configs as code: loading get_config(arg) files and typed command-line overrides."""

from __future__ import annotations

import pytest

from tinymyo_jax.config_files import apply_override, load_config, split_config_overrides
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
    for assignment in ("optimizer.lr=3e-4", "total_steps=12", "data.use_channel_mask=false", "data.data_dir=/tmp/x"):
        apply_override(config, assignment)
    assert config.optimizer.lr == 3e-4 and isinstance(config.optimizer.lr, float)
    assert config.total_steps == 12 and config.data.use_channel_mask is False and config.data.data_dir == "/tmp/x"


def test_mixture_takes_new_datasets():
    config = base_config()
    apply_override(config, "data.mixture.ninapro_db5=0.5")
    assert config.data.mixture["ninapro_db5"] == 0.5


@pytest.mark.parametrize(
    "assignment,message",
    [("optimizer.lrr=1", "unknown config field 'optimizer.lrr'"), ("total_steps=abc", "is an integer"),
     ("data.use_channel_mask=3", "is a bool"), ("nosuch.field=1", "unknown config field 'nosuch'"),
     ("total_steps", "must look like")],
)
def test_bad_overrides_are_one_line_errors(assignment, message):
    with pytest.raises(UserError, match=message):
        apply_override(base_config(), assignment)


def test_overrides_are_separated_from_other_arguments():
    rest, overrides = split_config_overrides(["--workdir", "w", "--config.seed=3", "--config.total_steps", "7"])
    assert rest == ["--workdir", "w"] and overrides == ["seed=3", "total_steps=7"]


def test_missing_config_file_is_a_user_error():
    with pytest.raises(UserError, match="not found"):
        load_config("configs/pretrain/nope.py")

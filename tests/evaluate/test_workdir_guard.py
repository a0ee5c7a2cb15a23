"""Issue 14 for the evaluators: a fine-tuning workdir keeps what it was started with (finding 4),
and a truncated shard or feature cache gives no traceback (finding 7)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tinymyo_jax.cli import main as tinymyo
from tinymyo_jax.evaluate.config import finetune_config
from tinymyo_jax.evaluate.features import cached
from tinymyo_jax.train.finetune import finetune
from tests.assertions import one_line_error, tree_digest

FINETUNE = "configs/finetune/epn612.py:tiny"
PROBE = "configs/probe/epn612.py:tiny"


@pytest.fixture(scope="module")
def one_epoch(downstream_data_dir, tmp_path_factory) -> Path:
    """A finished tiny fine-tune (1 epoch = 10 steps) with a random encoder."""
    config = finetune_config("epn612", "tiny")
    config.data.data_dir = str(downstream_data_dir)
    config.finetune.epochs = 1
    workdir = tmp_path_factory.mktemp("guard") / "finetune"
    finetune(config, workdir)
    return workdir


def test_a_finetune_rerun_with_another_init_refuses_before_touching_the_workdir(one_epoch, downstream_data_dir, capsys):
    before = tree_digest(one_epoch)
    code = tinymyo(["finetune", "--config", FINETUNE, "--workdir", str(one_epoch), "--config.finetune.epochs=1",
                    f"--config.data.data_dir={downstream_data_dir}", f"--config.init={one_epoch / 'best'}"])  # fmt: skip
    assert code == 2
    err = one_line_error(capsys)
    assert "init='random'" in err and "--config.workdir_mode=fresh" in err
    assert tree_digest(one_epoch) == before


def test_a_finetune_rerun_with_another_model_refuses(one_epoch, downstream_data_dir, capsys):
    before = tree_digest(one_epoch)
    code = tinymyo(["finetune", "--config", FINETUNE, "--workdir", str(one_epoch), "--config.finetune.epochs=1",
                    f"--config.data.data_dir={downstream_data_dir}", "--config.model.embed_dim=48"])  # fmt: skip
    assert code == 2
    assert "model.embed_dim" in one_line_error(capsys)
    assert tree_digest(one_epoch) == before


def test_a_probe_on_a_truncated_shard_is_aone_line_error(downstream_data_dir, tmp_path, capsys):
    data_dir = tmp_path / "tfds"
    shutil.copytree(downstream_data_dir / "epn612", data_dir / "epn612")
    shard = next(data_dir.glob("epn612/*/1.0.0/epn612-train.array_record-*"))
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 3])
    code = tinymyo(["probe", "--config", PROBE, "--workdir", str(tmp_path / "probe"), f"--config.data.data_dir={data_dir}"])
    assert code == 2
    err = one_line_error(capsys)
    assert shard.name in err and "damaged" in err


def test_a_truncated_feature_cache_is_computed_again(tmp_path, capsys):
    settings = {"encoder": "abc", "rows": 3}
    first = cached(tmp_path, "features-train", settings, True, lambda: {"x": np.arange(6.0).reshape(3, 2)})
    (path,) = (tmp_path / "features").glob("*.npz")
    path.write_bytes(path.read_bytes()[:40])  # truncated by hand or a full disk
    again = cached(tmp_path, "features-train", settings, True, lambda: {"x": np.arange(6.0).reshape(3, 2)})
    np.testing.assert_array_equal(first["x"], again["x"])
    assert "is damaged" in capsys.readouterr().out
    with np.load(path) as stored:  # rewritten whole
        np.testing.assert_array_equal(stored["x"], first["x"])

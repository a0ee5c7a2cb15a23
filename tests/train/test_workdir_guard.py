"""Issue 14 for pretraining: a workdir keeps what it was started with; mistakes are one line.

Findings reproduced: 5 (a rerun with another model size or init refuses before it writes
anything; a damaged newest checkpoint falls back to the previous step), 6 (a mixture weight of
-1; a dataset whose windows have no live channel refuses at start), 7 (pretrain's config
mistakes and a truncated shard: exit 2, one line, no traceback). Every refusal happens before
compilation; one tiny run (6 steps, checkpoints at 2, 4, 6) is shared by the module.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tinymyo_jax.cli import main as tinymyo
from tinymyo_jax.config_files import load_config
from tinymyo_jax.train.pretrain import pretrain
from tests.assertions import one_line_error, tree_digest

TINY = "configs/pretrain/smoke.py:tiny"
SHARD = "ninapro_db6-train.array_record-00000-of-00001"


def _pretrain_cli(workdir: Path, data_dir: Path, *overrides: str) -> int:
    return tinymyo(["pretrain", "--config", TINY, "--workdir", str(workdir), f"--config.data.data_dir={data_dir}",
                    *overrides])  # fmt: skip


@pytest.fixture(scope="module")
def tiny_run(pretrain_data_dir, tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("guard") / "run"
    pretrain(load_config(TINY, [f"data.data_dir={pretrain_data_dir}"]), workdir)
    return workdir


@pytest.mark.parametrize(
    "override, named",
    [("--config.model.embed_dim=64", "model.embed_dim=32"), ("--config.init_from=/elsewhere", "init=''"),
     ("--config.data.mixture.emg2pose=2.0", "data.emg2pose.weight=1.0")],
)  # fmt: skip
def test_a_rerun_with_other_settings_refuses_before_touching_the_workdir(tiny_run, pretrain_data_dir, override, named,
                                                                           capsys):  # fmt: skip
    before = tree_digest(tiny_run)
    assert _pretrain_cli(tiny_run, pretrain_data_dir, override) == 2
    err = one_line_error(capsys)
    assert named in err and "--config.workdir_mode=fresh" in err and "another --workdir" in err
    assert tree_digest(tiny_run) == before


@pytest.mark.slow
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_step(tiny_run, pretrain_data_dir, tmp_path, capsys):
    workdir = tmp_path / "run"
    shutil.copytree(tiny_run, workdir)
    shutil.rmtree(workdir / "checkpoints" / "6" / "params" / "d")  # the newest step's parameter data
    assert _pretrain_cli(workdir, pretrain_data_dir) == 0
    captured = capsys.readouterr()
    assert "fell back to step 4" in captured.out and "Traceback" not in captured.err
    assert (workdir / "damaged_checkpoints" / "6").is_dir()
    assert sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit()) == [2, 4, 6]


@pytest.mark.parametrize(
    "overrides, phrase",
    [
        (["--config.global_batch_size=5", "--config.micro_batch_size=2"], "not a multiple of config.micro_batch_size"),
        (["--config.model.preset=huge"], "unknown model preset 'huge'"),
        (["--config.model.rope=banana"], "rope must be one of"),
        (["--config.data.mixture.emg2pose=-1"], "weights must be > 0"),
        (["--config.workdir_mode=sometimes"], "config.workdir_mode"),
        (["--config.data.mixture.no_such_corpus=1.0"], "no prepared dataset 'no_such_corpus'"),
    ],
)  # fmt: skip
def test_pretrain_config_mistakes_are_one_line_errors(pretrain_data_dir, tmp_path, overrides, phrase, capsys):
    assert _pretrain_cli(tmp_path / "run", pretrain_data_dir, *overrides) == 2
    assert phrase in one_line_error(capsys)
    assert not (tmp_path / "run").exists()


def test_a_workdir_that_is_a_file_is_aone_line_error(pretrain_data_dir, tmp_path, capsys):
    a_file = tmp_path / "run"
    a_file.write_text("mine")
    assert _pretrain_cli(a_file, pretrain_data_dir) == 2
    assert "is a file" in one_line_error(capsys)
    assert a_file.read_text() == "mine"


def _copy_db6_only(pretrain_data_dir: Path, tmp_path: Path) -> Path:
    data_dir = tmp_path / "tfds"
    shutil.copytree(pretrain_data_dir / "ninapro_db6", data_dir / "ninapro_db6")
    return data_dir


def _rewrite_records(shard: Path, change) -> None:
    """Rewrite every record of an ArrayRecord shard through `change(example)`."""
    from array_record.python import array_record_module
    from tensorflow_datasets.proto import tf_example_pb2

    from tinymyo_jax.data.builder import ARRAY_RECORD_OPTIONS

    reader = array_record_module.ArrayRecordReader(str(shard))
    examples = [tf_example_pb2.Example.FromString(r) for r in reader.read_all()]
    reader.close()
    writer = array_record_module.ArrayRecordWriter(str(shard), ARRAY_RECORD_OPTIONS)
    for example in examples:
        change(example)
        writer.write(example.SerializeToString(deterministic=True))
    writer.close()


def test_a_dataset_without_a_live_channel_refuses_at_start(pretrain_data_dir, tmp_path, capsys):
    data_dir = _copy_db6_only(pretrain_data_dir, tmp_path)

    def all_dead(example):
        feature = example.features.feature["channel_mask"]
        if feature.bytes_list.value:
            feature.bytes_list.value[0] = bytes(len(feature.bytes_list.value[0]))
        else:
            feature.int64_list.value[:] = [0] * len(feature.int64_list.value)

    version = next((data_dir / "ninapro_db6").glob("*/1.0.0"))
    for shard in version.glob("ninapro_db6-*.array_record-*"):
        _rewrite_records(shard, all_dead)
    assert _pretrain_cli(tmp_path / "run", data_dir, "--config.data.mixture={'ninapro_db6': 1.0}") == 2
    assert "has a live channel" in one_line_error(capsys)


def test_a_truncated_shard_is_aone_line_error(pretrain_data_dir, tmp_path, capsys):
    data_dir = _copy_db6_only(pretrain_data_dir, tmp_path)
    shard = next((data_dir / "ninapro_db6").glob(f"*/1.0.0/{SHARD}"))
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 3])
    assert _pretrain_cli(tmp_path / "run", data_dir, "--config.data.mixture={'ninapro_db6': 1.0}") == 2
    err = one_line_error(capsys)
    assert SHARD in err and "damaged" in err


def test_require_live_channels_reads_spread_windows():
    from tinymyo_jax.errors import UserError
    from tinymyo_jax.train.mixture import require_live_channels

    class Source:
        def __init__(self, live_at: int | None) -> None:
            self.live_at = live_at

        def __len__(self) -> int:
            return 1000

        def read_batch(self, indices):
            mask = np.zeros((len(indices), 16), bool)
            mask[np.asarray(indices) == self.live_at, 3] = True
            return {"channel_mask": mask}

    require_live_channels("x", "train", Source(live_at=999))  # the last window is checked
    with pytest.raises(UserError, match="none of 256 windows"):
        require_live_channels("x", "train", Source(live_at=None))

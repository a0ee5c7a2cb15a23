"""tinymyo_jax.storage on local folders and on the GCS emulator: the same calls, the same results."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.gcs_emulator import fresh_prefix
from tinymyo_jax import storage


@pytest.fixture(params=["local", "gs"])
def folder(request, tmp_path):
    if request.param == "local":
        return storage.path(tmp_path / "store")
    return storage.path(fresh_prefix(request.getfixturevalue("gcs_bucket"), "store"))


def test_a_url_that_went_through_pathlib_is_still_a_url():
    assert str(storage.path(Path("gs://bucket/runs/x"))) == "gs://bucket/runs/x"  # pathlib made it gs:/bucket/...
    assert storage.is_remote(Path("gs://bucket/x")) and not storage.is_remote("runs/gs")
    assert str(storage.path("runs/x")) == os.path.abspath("runs/x")


def test_files_folders_and_atomic_writes(folder):
    storage.write_atomic(folder / "a" / "config.json", '{"x": 1}')
    storage.write_atomic(folder / "a" / "config.json", '{"x": 2}')  # replaces
    storage.write_bytes(folder / "b.bin", b"\x00\x01")
    assert storage.read_text(folder / "a" / "config.json") == '{"x": 2}'
    assert storage.listdir(folder) == ["a", "b.bin"] and storage.listdir(folder / "a") == ["config.json"]
    assert storage.is_dir(folder / "a") and storage.is_file(folder / "b.bin") and storage.size(folder / "b.bin") == 2
    storage.copy_tree(folder / "a", folder / "c")
    storage.move(folder / "c", folder / "d")
    assert storage.listdir(folder) == ["a", "b.bin", "d"] and storage.read_text(folder / "d" / "config.json") == '{"x": 2}'
    storage.remove_tree(folder / "d")
    storage.remove_tree(folder / "absent")  # absent is fine
    assert not storage.exists(folder / "d")


def test_an_append_log_continues_after_a_restart(folder):
    first = storage.AppendLog(folder / "metrics.jsonl")
    first.write("1\n")
    first.write("2\n")
    assert storage.read_text(folder / "metrics.jsonl") == "1\n2\n"  # visible before close: a kill keeps it
    first.close()
    resumed = storage.AppendLog(folder / "metrics.jsonl")
    resumed.write("3\n")
    resumed.close()
    assert storage.read_text(folder / "metrics.jsonl") == "1\n2\n3\n"


def test_a_remote_file_is_fetched_once_and_again_when_it_changes(gcs_bucket):
    url = storage.path(fresh_prefix(gcs_bucket, "shards")) / "x.array_record"
    storage.write_bytes(url, b"abc")
    local = storage.local_copy(url)
    assert Path(local).read_bytes() == b"abc" and not storage.is_remote(local)
    os.utime(local, (1, 1))
    assert storage.local_copy(url) == local and os.path.getmtime(local) == 1  # not fetched again
    storage.write_bytes(url, b"abcd")  # rebuilt: another size
    assert Path(storage.local_copy(url)).read_bytes() == b"abcd"

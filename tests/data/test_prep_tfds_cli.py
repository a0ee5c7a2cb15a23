"""`tfds build data_prep/<name>` runs the same builder as `tinymyo prep`: identical shards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow_datasets as tfds

from tests.conftest import REPO
from tests.data.prep_reference import build
from tinymyo_jax.data.synth import write_raw_corpus


@pytest.mark.slow
def test_tfds_build_of_the_data_prep_folder_matches_tinymyo_prep(tmp_path):
    raw = tmp_path / "raw"
    write_raw_corpus("uci_emg", raw / "uci_emg", seed=0, num_subjects=1)
    _, ours = build("uci_emg", raw, tmp_path / "prep")
    tfds_cli = Path(sys.executable).with_name("tfds")
    result = subprocess.run(
        [str(tfds_cli), "build", str(REPO / "data_prep" / "uci_emg"), "--manual_dir", str(raw),
         "--data_dir", str(tmp_path / "cli"), "--file_format", "array_record"],
        capture_output=True, text=True, env={**os.environ, "TINYMYO_PREP_WORKERS": "1"}, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "uci_emg/w1000: 2 of 2 raw files used" in result.stdout  # the builder's summary
    theirs = tmp_path / "cli" / "uci_emg" / "w1000" / "1.0.0"
    shards = sorted(p.name for p in ours.glob("*.array_record-*"))
    assert shards and shards == sorted(p.name for p in theirs.glob("*.array_record-*"))
    for name in shards:
        assert (ours / name).read_bytes() == (theirs / name).read_bytes()
    source = tfds.data_source("uci_emg", data_dir=tmp_path / "cli")
    assert len(source["train"]) > 0 and source["train"][0]["emg"].shape == (16, 1000)

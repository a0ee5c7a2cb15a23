"""`tinymyo export` with the checkpoint and --out on (emulated) GCS: the files land in the bucket."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from tests.gcs_emulator import assert_no_scheme_folder, fresh_prefix
from tinymyo_jax import storage
from tinymyo_jax.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_float_export_reads_a_gcs_checkpoint_and_writes_its_files_to_the_bucket(gcs_bucket, tmp_path):
    from tinymyo_jax.models.checkpoint import save_model_checkpoint
    from tinymyo_jax.models.config import ModelConfig
    from tinymyo_jax.models.tinymyo import build_model

    config = ModelConfig(embed_dim=16, depth=1, num_heads=2, head="classification", num_outputs=3, num_channels=4)
    checkpoint = save_model_checkpoint(fresh_prefix(gcs_bucket, "ckpt"), build_model(config)).parent
    out = storage.path(fresh_prefix(gcs_bucket, "export"))
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(out), "--channels", "4", "--samples", "100"]) == 0
    names = storage.listdir(out)
    for name in ("report.json", "model_float.tflite", "model_data.cc", "model_data.h"):
        assert name in names, names
    report = json.loads(storage.read_text(out / "report.json"))
    assert storage.size(out / "model_float.tflite") > 10_000 and report["seconds"] > 0
    assert_no_scheme_folder(REPO, tmp_path)
    assert not (Path(tempfile.gettempdir()) / "gs:").exists()

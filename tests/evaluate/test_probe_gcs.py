"""A linear probe with workdir and data_dir on (emulated) GCS gives the local probe's numbers
and leaves its results, report, plots and feature caches in the bucket."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from tests.evaluate.test_probe import _config, _numbers
from tests.gcs_emulator import assert_no_scheme_folder, fresh_prefix
from tinymyo_jax import storage
from tinymyo_jax.evaluate.probe import run_probe

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_probe_on_gcs_matches_the_local_probe_and_reuses_its_feature_cache(downstream_data_dir, gcs_bucket, tmp_path):
    local = run_probe(_config("epn612", downstream_data_dir), tmp_path / "local")
    data_dir = fresh_prefix(gcs_bucket, "downstream_tfds")
    storage.copy_tree(downstream_data_dir / "epn612", f"{data_dir}/epn612")
    run = storage.path(fresh_prefix(gcs_bucket, "probe"))
    config = _config("epn612", data_dir)
    remote = run_probe(config, run)
    assert _numbers(remote) == _numbers(local)
    stored = json.loads(storage.read_text(run / "results.json"))
    assert stored["plots"] and all(storage.size(run / plot) > 5_000 for plot in stored["plots"])
    assert "| linear probe, random encoder" in storage.read_text(run / "report.md")
    caches = [name for name in storage.listdir(run / "features") if name.endswith(".npz")]
    assert len(caches) == 6  # 3 splits x (encoder, classic)
    before = _generations(run / "features", caches)
    again = run_probe(config, run)  # the same workdir: features come from the bucket's cache
    assert _numbers(again) == _numbers(local)
    assert _generations(run / "features", caches) == before  # not one cache object rewritten
    assert_no_scheme_folder(REPO, tmp_path, Path(tempfile.gettempdir()) / "tinymyo-cache")
    assert not (Path(tempfile.gettempdir()) / "gs:").exists()


def _generations(folder, names) -> dict[str, str]:
    """GCS object generations: a rewritten object gets a new one."""
    import gcsfs

    fs = gcsfs.GCSFileSystem(token="anon")
    return {name: fs.info(str(folder / name))["generation"] for name in names}

"""Issue 23 finding 4: a probe of an encoder with NaN weights reported 50.0% and exited 0; it
is refused with one line, as fine-tuning refuses it."""

from __future__ import annotations

import jax
import numpy as np

from tinymyo_jax.cli import main as tinymyo
from tinymyo_jax.models.checkpoint import params_of, save_model_checkpoint, set_params
from tinymyo_jax.models.config import preset
from tinymyo_jax.models.tinymyo import build_model
from tests.assertions import one_line_error


def test_a_probe_of_an_encoder_with_nan_weights_is_refused(downstream_data_dir, tmp_path, capsys):
    model = build_model(preset("tinyissimo", embed_dim=32, depth=1, num_heads=2, head="reconstruction"), seed=3)
    params = params_of(model)
    params["encoder"] = jax.tree.map(lambda leaf: np.full_like(np.asarray(leaf), np.nan), params["encoder"])
    set_params(model, params)
    save_model_checkpoint(tmp_path / "diverged", model)
    code = tinymyo(["probe", "--config", "configs/probe/epn612.py:tiny", f"--config.data.data_dir={downstream_data_dir}",
                    "--workdir", str(tmp_path / "probe"), f"--config.init={tmp_path / 'diverged'}"])  # fmt: skip
    assert code == 2
    assert "non-finite weights" in one_line_error(capsys)
    assert not (tmp_path / "probe" / "results.json").exists()

"""The input normalisation a checkpoint was trained with is the one probe, fine-tune and export
apply by default (`input_normalization = "checkpoint"`), and an explicit one overrides it."""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest

from tinymyo_jax.evaluate.config import finetune_config, probe_config
from tinymyo_jax.evaluate.data import DatasetInfo
from tinymyo_jax.evaluate.features import make_feature_fn
from tinymyo_jax.train.finetune import finetune_model_config
from tinymyo_jax.models.checkpoint import load_model_checkpoint, save_model_checkpoint
from tinymyo_jax.models.config import preset
from tinymyo_jax.models.normalization import normalize
from tinymyo_jax.models.tinymyo import build_model
from tinymyo_jax.train.config import base_config
from tinymyo_jax.train.pretrain import model_config_from

SMALL = dict(embed_dim=16, depth=1, num_heads=2)


def _window(seed: int = 0) -> np.ndarray:
    # channels of very different amplitude: per-channel min–max and one scale per window differ
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(2, 4, 80)) * np.array([0.3, 1.0, 4.0, 2.0])[None, :, None]).astype(np.float32)


def test_pretraining_stores_its_normalization_in_the_checkpoint(tmp_path):
    config = base_config()
    config.model.preset, config.model.embed_dim, config.model.depth, config.model.num_heads = "tinyissimo", 16, 1, 2
    config.data.normalization = "window_scale"
    model = build_model(model_config_from(config))
    save_model_checkpoint(tmp_path / "ckpt", model)
    assert load_model_checkpoint(tmp_path / "ckpt").config.normalization == "window_scale"


@pytest.mark.parametrize("stored", ["window_scale", "minmax_channel"])
def test_probe_features_apply_the_checkpoints_normalization(stored):
    model = build_model(preset("tinyissimo", head="none", normalization=stored, **SMALL), seed=0)
    config = probe_config("ninapro_db8", "tiny")
    assert config.data.input_normalization == "checkpoint"
    config.features.segments, config.data.encode_chunk = 1, 0
    fn, params = make_feature_fn(model, config)
    emg, mask = _window(), np.ones((2, 4), bool)
    features = np.asarray(fn(params, emg.astype(np.float16), mask))
    expected = {}
    for mode in ("window_scale", "minmax_channel", "none"):
        x = normalize(jnp.asarray(emg.astype(np.float16).astype(np.float32)), mode, jnp.asarray(mask))
        latent = np.asarray(model.encode(x, channel_mask=jnp.asarray(mask)))  # (B, C·P, D), concat fusion
        expected[mode] = latent.reshape(2, 4, -1, 16).mean(2).reshape(2, -1)
    np.testing.assert_allclose(features[:, 0], expected[stored], atol=1e-5)
    for mode in expected:
        if mode != stored:
            assert np.abs(features[:, 0] - expected[mode]).max() > 1e-3
    # an explicit choice overrides the checkpoint's
    config.data.input_normalization = "none"
    fn, params = make_feature_fn(model, config)
    np.testing.assert_allclose(np.asarray(fn(params, emg.astype(np.float16), mask))[:, 0], expected["none"], atol=1e-5)


def test_finetuned_checkpoints_record_the_normalization_they_were_trained_on():
    initial = preset("tinyissimo", head="none", normalization="window_scale", **SMALL)
    info = DatasetInfo(name="x", directory=None, task="classification", window=80, channels=4, num_classes=3,
                       class_names=("a", "b", "c"), target_names=(), fingerprint="", split_sizes={}, fs=None)  # fmt: skip
    config = finetune_config("ninapro_db5")
    assert finetune_model_config(initial, config, info).normalization == "window_scale"
    config.data.input_normalization = "minmax"
    assert finetune_model_config(initial, config, info).normalization == "minmax_channel"


@pytest.mark.slow
def test_export_feeds_the_model_the_checkpoints_normalization(tmp_path):
    from tinymyo_jax.export.pipeline import export_model
    from tinymyo_jax.export.windows import ExportWindows

    model = build_model(preset("tinyissimo", head="none", normalization="minmax_channel", **SMALL), seed=0)
    raw = _window(1)
    report = export_model(model, tmp_path, channels=4, samples=80, evaluation=ExportWindows(raw, None, None, "test"),
                          processes=1, log=lambda _: None)  # fmt: skip
    assert report["export_form"]["input_normalization"].startswith("minmax_channel")
    # sample_window.h holds the TFLM output for the first evaluation window: it is the model's
    # output on the min–max-normalised window, not on the raw one
    header = (tmp_path / "sample_window.h").read_text()
    expected_text = header[header.index("kSampleExpectedOutput"):]
    tflm = np.array([float(v) for v in re.findall(r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)f", expected_text)])
    on_normalized = np.asarray(model.encode(normalize(jnp.asarray(raw[:1]), "minmax_channel"))).mean(1)[0]
    on_raw = np.asarray(model.encode(jnp.asarray(raw[:1]))).mean(1)[0]
    np.testing.assert_allclose(tflm, on_normalized, atol=1e-4)
    assert np.abs(tflm - on_raw).max() > 1e-2

"""configs/pretrain/real_small.py, the recipe of docs/transfer.md "Recipe": it loads, validates
and builds a model that reconstructs the 1-s, 200-sample Myo windows it is meant for."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from tinymyo_jax.config_files import load_config
from tinymyo_jax.models.tinymyo import build_model
from tinymyo_jax.train.config import check_config
from tinymyo_jax.train.pretrain import model_config_from

REAL_SMALL = "configs/pretrain/real_small.py"


def test_real_small_is_the_measured_recipe():
    config = load_config(REAL_SMALL)
    check_config(config)
    model = model_config_from(config)
    assert (model.embed_dim, model.depth, model.num_heads, model.patch_size) == (64, 4, 4, 20)
    assert (model.rope, model.channel_embedding, model.normalization) == ("time_channel", "learned", "window_scale")
    assert dict(config.data.mixture) == {"myo_armband/w200": 1.0}  # the windows it was measured on
    assert config.loss.target == "rectified"
    assert (config.masking.ratio, config.optimizer.lr, config.total_steps, config.global_batch_size) == (0.5, 2e-3, 1000, 64)


def test_tiny_variant_builds_and_reconstructs_200_sample_windows():
    config = load_config(REAL_SMALL + ":tiny")
    check_config(config)
    model_config = model_config_from(config)
    assert (model_config.embed_dim, model_config.depth) == (32, 2) and config.total_steps == 4
    model = build_model(model_config, seed=0)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 16, 200)), jnp.float32)
    channel_mask = jnp.arange(16)[None, :].repeat(2, 0) < 8  # the Myo's 8 rows of 16
    patches = model(x, channel_mask=channel_mask)
    assert patches.shape == (2, 16 * 10, 20) and bool(jnp.isfinite(patches).all())


def test_reference_variant_is_reachable():
    config = load_config(REAL_SMALL + ":tiny,reference")
    assert (config.model.rope, config.data.normalization, config.model.channel_embedding) == ("reference", "minmax_channel", "none")
    assert config.total_steps == 4

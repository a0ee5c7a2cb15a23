"""config.loss.target: what masked patches are reconstructed as. "rectified" scores the model
against |x| (the amplitude envelope's samples) in training and validation alike."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tinymyo_jax.config_files import load_config
from tinymyo_jax.errors import UserError
from tinymyo_jax.models.objective import TARGETS, combine_loss_terms, patches_to_signal, reconstruction_loss_terms
from tinymyo_jax.models.tinymyo import build_model
from tinymyo_jax.train.config import check_config
from tinymyo_jax.train.pretrain import model_config_from
from tinymyo_jax.train.step import make_eval_step, prepare_batch, reconstruction_gradients, step_keys


def _setup(target: str):
    config = load_config("configs/pretrain/real_small.py:tiny", [f"loss.target={target}"])
    model_config = model_config_from(config)
    graphdef, params = nnx.split(build_model(model_config, seed=0), nnx.Param)
    emg = np.random.default_rng(1).normal(size=(4, 16, 200)).astype(np.float32)  # half the samples < 0
    batch = {"emg": jnp.asarray(emg), "channel_mask": jnp.asarray(np.arange(16)[None].repeat(4, 0) < 8)}
    return config, model_config, graphdef, params, batch


def _log_rms(x):  # per 20-sample patch (the tiny config's patch size), spelled out in numpy
    patches = np.asarray(x).reshape(*x.shape[:2], -1, 20)
    rms = np.sqrt((patches**2).mean(-1, keepdims=True))
    return jnp.asarray(np.broadcast_to(np.log(rms + 0.02), patches.shape).reshape(x.shape))


def _dct_abs(x):  # |orthonormal DCT-II| of each 20-sample patch, coefficient k in the patch's sample k
    k, m = np.arange(20)[:, None], np.arange(20)[None, :]
    dct = np.where(k == 0, np.sqrt(1 / 20), np.sqrt(2 / 20)) * np.cos(np.pi * (2 * m + 1) * k / 40)
    patches = np.asarray(x, np.float64).reshape(*x.shape[:2], -1, 20)
    return jnp.asarray(np.abs(patches @ dct.T).reshape(x.shape).astype(np.float32))


@pytest.mark.parametrize(
    "target,transform",
    [("signal", lambda x: x), ("rectified", jnp.abs), ("log_rms", _log_rms), ("dct_abs", _dct_abs),
     ("dct_log", lambda x: jnp.log(_dct_abs(x) + 0.02))],
)  # fmt: skip
def test_training_loss_is_scored_against_the_target(target, transform):
    config, model_config, graphdef, params, batch = _setup(target)
    _, metrics = reconstruction_gradients(graphdef, model_config, config)(params, batch, jnp.asarray(0))
    mask_key, _ = step_keys(config.seed, jnp.asarray(0))
    x, channel_mask, token_mask, sample_mask = prepare_batch(batch, mask_key, model_config, config)
    model = nnx.merge(graphdef, params)
    reconstruction = patches_to_signal(model(x, token_mask=token_mask, channel_mask=channel_mask), x.shape[1])
    expected = combine_loss_terms(reconstruction_loss_terms(reconstruction, transform(x), sample_mask, channel_mask),
                                  config.loss.visible_weight)  # fmt: skip
    np.testing.assert_allclose(float(metrics["masked_loss"]), float(expected["masked_loss"]), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["visible_loss"]), float(expected["visible_loss"]), rtol=1e-5)


def test_validation_returns_the_rectified_target_for_its_baselines():
    config, model_config, graphdef, params, batch = _setup("rectified")
    terms, reconstruction, sample_mask, target = make_eval_step(graphdef, model_config, config)(params, batch, jnp.asarray(0))
    assert bool((target >= 0).all()) and float(jnp.abs(target).max()) > 0
    np.testing.assert_allclose(np.asarray(terms["masked_sum"]),
                               np.asarray(reconstruction_loss_terms(reconstruction, target, sample_mask, batch["channel_mask"])["masked_sum"]),
                               rtol=1e-5)  # fmt: skip


def test_every_target_passes_the_config_check():
    for target in TARGETS:
        check_config(load_config("configs/pretrain/real_small.py:tiny", [f"loss.target={target}"]))


def test_an_unknown_target_is_a_config_error():
    with pytest.raises(UserError, match="config.loss.target must be one of"):
        check_config(load_config("configs/pretrain/real_small.py:tiny", ["loss.target=envelope"]))


def test_an_unknown_mask_pattern_is_a_config_error():
    with pytest.raises(UserError, match="config.masking.pattern must be one of"):
        check_config(load_config("configs/pretrain/real_small.py:tiny", ["masking.pattern=blocks"]))


def test_the_trainer_draws_its_masks_with_the_configured_pattern():
    config, model_config, _, _, batch = _setup("log_rms")
    config.masking.pattern = "channel"
    _, channel_mask, token_mask, _ = prepare_batch(batch, step_keys(config.seed, jnp.asarray(0))[0], model_config, config)
    tokens = np.asarray(token_mask).reshape(4, 16, -1)
    np.testing.assert_array_equal(tokens.all(2), tokens.any(2))  # whole channels
    np.testing.assert_array_equal(tokens.all(2).sum(1), 4)  # int(0.5 · 8 real channels)


def test_a_run_recorded_before_the_mask_pattern_existed_resumes_under_the_default_pattern(tmp_path):
    from tinymyo_jax.train.run_record import PRETRAINING_FIELDS, training_settings
    from tinymyo_jax.train.workdir import RECORD_FILE, start_run

    config = load_config("configs/pretrain/real_small.py:tiny")
    old = training_settings(config, PRETRAINING_FIELDS)
    assert old["training"]["masking"] == {"ratio": config.masking.ratio}  # what records held before the field
    (tmp_path / RECORD_FILE).write_text(json.dumps(old))
    start_run(tmp_path, training_settings(config, PRETRAINING_FIELDS), "resume")  # resumes
    config.masking.pattern = "channel"
    with pytest.raises(UserError, match="masking.pattern"):
        start_run(tmp_path, training_settings(config, PRETRAINING_FIELDS), "resume")

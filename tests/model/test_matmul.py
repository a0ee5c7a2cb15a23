"""`matmul_dtype = "bfloat16"`: the Linear layers multiply bf16-rounded operands into float32
results, forward and both gradients; nothing else of the model changes, and float32 is the
plain product."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tinymyo_jax.config_files import load_config
from tinymyo_jax.errors import UserError
from tinymyo_jax.evaluate.config import finetune_config
from tinymyo_jax.models.config import ModelConfig
from tinymyo_jax.models.encoder import Attention
from tinymyo_jax.models.matmul import bf16_matmul, set_matmul_dtype
from tinymyo_jax.models.tinymyo import TinyMyo, build_model
from tinymyo_jax.train.config import base_config, check_config
from tinymyo_jax.train.finetune import check_finetune_config, supervised_gradients
from tinymyo_jax.train.pretrain import model_config_from
from tinymyo_jax.train.run_record import PRETRAINING_FIELDS, training_settings
from tinymyo_jax.train.step import make_gradient_fn
from tinymyo_jax.train.workdir import RECORD_FILE, start_run


def _bf16(a: np.ndarray) -> np.ndarray:
    """a rounded to bfloat16, back in float64."""
    return np.asarray(jnp.asarray(a, jnp.float32).astype(jnp.bfloat16).astype(jnp.float32), np.float64)


def test_the_product_and_its_gradients_are_those_of_the_bf16_rounded_operands_in_f32():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 48)).astype(np.float32)
    kernel = rng.normal(size=(48, 24)).astype(np.float32)
    cotangent = rng.normal(size=(2, 5, 24)).astype(np.float32)
    out, pullback = jax.vjp(bf16_matmul, jnp.asarray(x), jnp.asarray(kernel))
    dx, dk = pullback(jnp.asarray(cotangent))
    assert out.dtype == dx.dtype == dk.dtype == jnp.float32
    xr, kr, gr = _bf16(x), _bf16(kernel), _bf16(cotangent)
    # products of bf16 values are exact in f32; only the f32 sums round
    np.testing.assert_allclose(out, xr @ kr, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, gr @ kr.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dk, xr.reshape(-1, 48).T @ gr.reshape(-1, 24), rtol=1e-5, atol=1e-5)
    # and they are not the f32 product: the rounding is there
    assert np.abs(np.asarray(out) - x.astype(np.float64) @ kernel).max() > 1e-3


def test_the_attention_product_and_its_gradients_are_those_of_the_bf16_rounded_operands_in_f32():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2, 3, 7, 16)).astype(np.float32)  # (batch, heads, queries, head dim)
    b = rng.normal(size=(2, 3, 16, 9)).astype(np.float32)
    cotangent = rng.normal(size=(2, 3, 7, 9)).astype(np.float32)
    out, pullback = jax.vjp(bf16_matmul, jnp.asarray(a), jnp.asarray(b))
    da, db = pullback(jnp.asarray(cotangent))
    ar, br, gr = _bf16(a), _bf16(b), _bf16(cotangent)
    np.testing.assert_allclose(out, ar @ br, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(da, gr @ br.swapaxes(-1, -2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(db, ar.swapaxes(-1, -2) @ gr, rtol=1e-5, atol=1e-5)
    assert np.abs(np.asarray(out) - a.astype(np.float64) @ b).max() > 1e-3


def _tiny():
    config = base_config()
    config.model.preset = "tinyissimo"
    config.model.embed_dim, config.model.depth, config.model.num_heads = 32, 2, 2
    config.global_batch_size = 4
    return config


def test_float32_is_the_plain_model_and_bfloat16_is_close_to_it():
    model_config = model_config_from(_tiny())
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 4, 200)), jnp.float32)
    plain = TinyMyo(model_config, rngs=nnx.Rngs(params=0))
    reference = np.asarray(plain(x))
    np.testing.assert_array_equal(set_matmul_dtype(TinyMyo(model_config, rngs=nnx.Rngs(params=0)), "float32")(x), reference)
    model = set_matmul_dtype(TinyMyo(model_config, rngs=nnx.Rngs(params=0)), "bfloat16")
    attention = [m for _, m in nnx.iter_graph(model) if isinstance(m, Attention)]
    assert len(attention) == model_config.depth and all(m.matmul_dtype == "bfloat16" for m in attention)
    rounded = np.asarray(model(x))
    scale = np.abs(reference).max()
    assert 1e-5 * scale < np.abs(rounded - reference).max() < 3e-2 * scale


def test_the_training_gradient_with_bf16_products_is_close_to_the_float32_one():
    grads = {}
    for matmul_dtype in ("float32", "bfloat16"):
        config = _tiny()
        config.matmul_dtype = matmul_dtype
        model_config = model_config_from(config)
        graphdef, params = nnx.split(TinyMyo(model_config, rngs=nnx.Rngs(params=1)))
        rng = np.random.default_rng(0)
        batch = {"emg": rng.normal(size=(4, 4, 200)).astype(np.float32), "channel_mask": np.ones((4, 4), bool)}
        gradient_fn = jax.jit(make_gradient_fn(graphdef, model_config, config))
        grads[matmul_dtype], _ = gradient_fn(nnx.to_pure_dict(params), batch, jnp.asarray(3))
    flat32 = np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads["float32"])])
    flat16 = np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads["bfloat16"])])
    relative = np.linalg.norm(flat16 - flat32) / np.linalg.norm(flat32)
    assert 1e-5 < relative < 5e-2, relative  # bf16-rounded products: close, and really rounded


def test_an_unknown_matmul_dtype_is_refused():
    with pytest.raises(ValueError, match="matmul_dtype"):
        set_matmul_dtype(TinyMyo(model_config_from(_tiny()), rngs=nnx.Rngs(params=0)), "float16")


def test_an_unknown_matmul_dtype_in_a_pretraining_config_is_a_one_line_config_error():
    with pytest.raises(UserError, match="config.matmul_dtype must be one of"):
        check_config(load_config("configs/pretrain/real_small.py:tiny", ["matmul_dtype=float16"]))


def test_a_run_recorded_before_matmul_dtype_existed_resumes_in_float32_and_refuses_bfloat16(tmp_path):

    config = load_config("configs/pretrain/real_small.py:tiny")
    old = training_settings(config, PRETRAINING_FIELDS)
    assert "matmul_dtype" not in old["training"]  # what records held before the field
    (tmp_path / RECORD_FILE).write_text(json.dumps(old))
    start_run(tmp_path, training_settings(config, PRETRAINING_FIELDS), "resume")
    config.matmul_dtype = "bfloat16"
    with pytest.raises(UserError, match="matmul_dtype"):
        start_run(tmp_path, training_settings(config, PRETRAINING_FIELDS), "resume")


def test_the_finetuning_gradient_with_bf16_products_is_close_to_the_float32_one():
    model_config = ModelConfig(embed_dim=32, depth=2, num_heads=2, head="classification", num_outputs=3, num_channels=4,
                               dropout=0.0, attention_dropout=0.0, drop_path=0.0)  # fmt: skip
    graphdef, params = nnx.split(build_model(model_config))
    rng = np.random.default_rng(2)
    batch = {"emg": jnp.asarray(rng.normal(size=(4, 4, 200)), jnp.float32), "channel_mask": jnp.ones((4, 4), bool),
             "label": jnp.asarray([0, 1, 2, 1])}  # fmt: skip
    grads = {}
    for matmul_dtype in ("float32", "bfloat16"):
        config = finetune_config("uci_emg")
        config.matmul_dtype = matmul_dtype
        gradient_fn = jax.jit(supervised_gradients(graphdef, config, 3))
        grads[matmul_dtype], _ = gradient_fn(nnx.to_pure_dict(params), batch, jnp.asarray(0))
    flat32 = np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads["float32"])])
    flat16 = np.concatenate([np.ravel(g) for g in jax.tree.leaves(grads["bfloat16"])])
    relative = np.linalg.norm(flat16 - flat32) / np.linalg.norm(flat32)
    assert 1e-5 < relative < 5e-2, relative


def test_an_unknown_matmul_dtype_in_a_finetuning_config_is_a_one_line_config_error():
    config = finetune_config("uci_emg")
    config.matmul_dtype = "float16"
    with pytest.raises(UserError, match="config.matmul_dtype must be one of"):
        check_finetune_config(config)

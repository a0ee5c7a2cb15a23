"""The JAX model, loaded from reference weights, computes the reference PyTorch function."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tinymyo_jax.models.normalization import minmax_normalize
from tinymyo_jax.models.objective import patches_to_signal, reconstruction_loss
from tinymyo_jax.models.torch_io import load_torch_checkpoint

CASES = [(task, variant) for task in ("pretraining", "classification", "regression") for variant in ("", "_perturbed")]


def _load(golden, task: str, variant: str):
    io = np.load(golden / f"{task}{variant}_io.npz")
    meta = json.loads(str(io["meta_json"]))["model_kwargs"]
    model = load_torch_checkpoint(
        golden / f"{task}{variant}.safetensors",
        num_heads=meta["n_head"],
        rope="reference",
        reg_target_len=meta.get("reg_target_len"),
        reduction=meta.get("reduction_type", "concat"),
    )
    return model, io, meta


@pytest.mark.parametrize("task,variant", CASES)
def test_outputs_match_reference_to_1e_4(golden, task, variant):
    model, io, meta = _load(golden, task, variant)
    assert (model.config.embed_dim, model.config.depth) == (meta["embed_dim"], meta["n_layer"])
    output = np.asarray(model(jnp.asarray(io["x"]), mask=jnp.asarray(io["mask"])))
    assert output.shape == io["output"].shape
    np.testing.assert_allclose(output, io["output"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(output, io["output_f64"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("task,variant", CASES)
def test_latent_tokens_match_reference(golden, task, variant):
    model, io, _ = _load(golden, task, variant)
    token_mask = jnp.asarray(io["mask"]).reshape(io["mask"].shape[0], -1, model.config.patch_size).any(-1)
    latent = np.asarray(model.encode(jnp.asarray(io["x"]), token_mask=token_mask))
    np.testing.assert_allclose(latent, io["latent"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("variant", ["", "_perturbed"])
def test_pretraining_losses_match_reference_to_1e_5(golden, variant):
    model, io, _ = _load(golden, "pretraining", variant)
    x = minmax_normalize(jnp.asarray(io["x_raw"]))
    np.testing.assert_allclose(np.asarray(x), io["x"], atol=1e-6, rtol=0)
    mask = jnp.asarray(io["mask"])
    reconstruction = patches_to_signal(model(x, mask=mask), x.shape[1])
    np.testing.assert_allclose(np.asarray(reconstruction), io["recon"], atol=1e-4, rtol=0)
    losses = reconstruction_loss(reconstruction, x, mask)
    assert abs(float(losses["loss"]) - float(io["loss"])) < 1e-5
    assert abs(float(losses["masked_loss"]) - float(io["masked_loss"])) < 1e-5
    assert abs(float(losses["visible_loss"]) - float(io["unmasked_loss"])) < 1e-5


@pytest.mark.parametrize("variant", ["", "_perturbed"])
def test_label_smoothed_cross_entropy_matches_reference(golden, variant):
    model, io, meta = _load(golden, "classification", variant)
    logits = model(jnp.asarray(io["x"]))
    targets = optax.smooth_labels(jnp.eye(meta["num_classes"])[io["label"]], 0.1)
    loss = optax.softmax_cross_entropy(logits, targets).mean()
    assert abs(float(loss) - float(io["ce_loss_ls0p1"])) < 1e-5

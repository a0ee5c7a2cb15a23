"""Reference checkpoints in and out: prefixes, clear errors, exact round trips, orbax import."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from tinymyo_jax.models.checkpoint import load_model_checkpoint, save_model_checkpoint
from tinymyo_jax.models.config import preset
from tinymyo_jax.models.tinymyo import build_model
from tinymyo_jax.models.torch_io import (
    CheckpointMismatchError,
    load_torch_checkpoint,
    reference_tensors,
    save_torch_checkpoint,
)


def test_release_prefix_model_dot_is_accepted(golden, tmp_path):
    tensors = load_file(str(golden / "classification_perturbed.safetensors"))
    save_file({f"model.{k}": v for k, v in tensors.items()}, str(tmp_path / "released.safetensors"))
    io = np.load(golden / "classification_perturbed_io.npz")
    model = load_torch_checkpoint(tmp_path / "released.safetensors", num_heads=2)
    np.testing.assert_allclose(np.asarray(model(jnp.asarray(io["x"]))), io["output"], atol=1e-4)


def test_architecture_is_inferred_from_keys_and_shapes(golden):
    model = load_torch_checkpoint(golden / "regression.safetensors", num_heads=2, reg_target_len=100)
    c = model.config
    assert (c.embed_dim, c.depth, c.patch_size, c.head, c.num_outputs, c.num_channels, c.reg_hidden_dim) == (
        64, 2, 20, "regression", 3, 4, 256)
    assert c.rope == "reference" and c.qkv_bias


def _edited(golden, tmp_path, edit):
    tensors = load_file(str(golden / "pretraining.safetensors"))
    edit(tensors)
    path = tmp_path / "edited.safetensors"
    save_file(tensors, str(path))
    return path


def test_missing_key_is_named(golden, tmp_path):
    path = _edited(golden, tmp_path, lambda t: t.pop("blocks.1.mlp.fc2.bias"))
    with pytest.raises(CheckpointMismatchError, match=r"missing key 'blocks\.1\.mlp\.fc2\.bias'"):
        load_torch_checkpoint(path, num_heads=2)


def test_unexpected_key_is_named(golden, tmp_path):
    path = _edited(golden, tmp_path, lambda t: t.update({"blocks.0.attn.extra": np.zeros(3, np.float32)}))
    with pytest.raises(CheckpointMismatchError, match=r"unexpected key 'blocks\.0\.attn\.extra'"):
        load_torch_checkpoint(path, num_heads=2)


def test_misshaped_tensor_is_named_with_both_shapes(golden, tmp_path):
    path = _edited(golden, tmp_path, lambda t: t.update({"blocks.1.mlp.fc1.weight": np.zeros((255, 64), np.float32)}))
    with pytest.raises(CheckpointMismatchError, match=r"'blocks\.1\.mlp\.fc1\.weight' has shape \(255, 64\), expected \(256, 64\)"):
        load_torch_checkpoint(path, num_heads=2)


def test_not_a_safetensors_file_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(Exception, match="not a readable safetensors file"):
        load_torch_checkpoint(path, num_heads=2)


@pytest.mark.parametrize("task", ["pretraining", "classification", "regression"])
def test_save_then_load_round_trip_is_bit_exact(golden, tmp_path, task):
    source = golden / f"{task}_perturbed.safetensors"
    model = load_torch_checkpoint(source, num_heads=2, reg_target_len=100 if task == "regression" else None)
    save_torch_checkpoint(model, tmp_path / "out.safetensors")
    original, written = load_file(str(source)), load_file(str(tmp_path / "out.safetensors"))
    assert original.keys() == written.keys()
    for key in original:
        np.testing.assert_array_equal(original[key], written[key], err_msg=key)


def test_published_shape_round_trips_through_reference_format(tmp_path):
    model = build_model(preset("tinymyo", head="classification", num_outputs=53, num_channels=16, rope="time"), seed=3)
    save_torch_checkpoint(model, tmp_path / "tinymyo.safetensors", release_prefix=True)
    assert all(k.startswith("model.") for k in load_file(str(tmp_path / "tinymyo.safetensors")))
    loaded = load_torch_checkpoint(tmp_path / "tinymyo.safetensors", num_heads=3, rope="time")
    assert loaded.config == model.config
    for key, value in reference_tensors(model).items():
        np.testing.assert_array_equal(value, reference_tensors(loaded)[key], err_msg=key)


def test_orbax_checkpoint_rebuilds_the_same_model(golden, tmp_path):
    model = load_torch_checkpoint(golden / "regression_perturbed.safetensors", num_heads=2, reg_target_len=100)
    save_model_checkpoint(tmp_path / "ckpt", model)
    restored = load_model_checkpoint(tmp_path / "ckpt")
    assert restored.config == model.config
    io = np.load(golden / "regression_perturbed_io.npz")
    np.testing.assert_array_equal(np.asarray(restored(jnp.asarray(io["x"]))), np.asarray(model(jnp.asarray(io["x"]))))

"""model.channel_embedding="learned": tokens know their channel; optional, so reference weights
load and save unchanged."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tinymyo_jax.models.checkpoint import load_model_checkpoint, save_model_checkpoint
from tinymyo_jax.models.config import ModelConfig, preset
from tinymyo_jax.models.encoder import channel_embedding_rows
from tinymyo_jax.models.tinymyo import build_model
from tinymyo_jax.models.torch_io import save_torch_checkpoint

SMALL = dict(embed_dim=32, depth=1, num_heads=2)


def _masked_outputs(channel_embedding: str) -> np.ndarray:
    # Every token masked, rope="time": without channel identity every channel's token at one
    # time position gets the same input and the same positions, hence the same output.
    model = build_model(preset("tinyissimo", **SMALL, rope="time", channel_embedding=channel_embedding), seed=1)
    x = jax.random.normal(jax.random.key(0), (1, 3, 100))
    token_mask = jnp.ones((1, 15), bool)
    return np.asarray(model(x, token_mask=token_mask))[0].reshape(3, 5, -1)


def test_learned_channel_embedding_tells_masked_tokens_apart():
    without = _masked_outputs("none")
    np.testing.assert_allclose(without[0], without[1], atol=1e-6)
    learned = _masked_outputs("learned")
    assert np.abs(learned[0] - learned[1]).min(axis=-1).max() > 1e-3
    assert np.abs(learned[1] - learned[2]).min(axis=-1).max() > 1e-3


def test_the_embedding_is_one_row_per_channel_index():
    table = np.arange(16 * 2, dtype=np.float32).reshape(16, 2)
    rows = np.asarray(channel_embedding_rows(jnp.asarray(table), 3, 5))
    np.testing.assert_array_equal(rows, np.repeat(table[:3], 5, axis=0))  # token n = c·P + p gets row c
    model = build_model(preset("tinyissimo", **SMALL, channel_embedding="learned"), seed=0)
    x = jax.random.normal(jax.random.key(2), (2, 3, 100))
    reference = np.asarray(model(x))
    learned = np.asarray(model.encoder.channel_embed[...])
    # a row of a channel the input does not have changes nothing; a used row changes the output
    model.encoder.channel_embed[...] = jnp.asarray(learned).at[5].set(0.0)
    np.testing.assert_array_equal(np.asarray(model(x)), reference)
    model.encoder.channel_embed[...] = jnp.asarray(learned).at[1].set(0.0)
    assert np.abs(np.asarray(model(x)) - reference).max() > 1e-3


def test_more_channels_than_rows_is_refused():
    model = build_model(preset("tinyissimo", **SMALL, channel_embedding="learned"), seed=0)
    with pytest.raises(ValueError, match="16 rows; the input has 17 channels"):
        model(jnp.zeros((1, 17, 20)))


def test_configs_saved_before_the_field_existed_load_without_it():
    fields = json.loads(preset("tinyissimo", **SMALL).to_json())
    del fields["channel_embedding"]
    assert ModelConfig.from_json(json.dumps(fields)).channel_embedding == "none"
    with pytest.raises(ValueError, match="channel_embedding must be one of"):
        preset("tinyissimo", **SMALL, channel_embedding="fixed")


def test_checkpoint_round_trip_keeps_the_embedding_and_reference_format_refuses_it(tmp_path):
    model = build_model(preset("tinyissimo", **SMALL, channel_embedding="learned"), seed=4)
    save_model_checkpoint(tmp_path / "ckpt", model)
    restored = load_model_checkpoint(tmp_path / "ckpt")
    x = jax.random.normal(jax.random.key(3), (1, 4, 100))
    np.testing.assert_array_equal(np.asarray(restored(x)), np.asarray(model(x)))
    with pytest.raises(ValueError, match="reference format has no channel embedding"):
        save_torch_checkpoint(model, tmp_path / "model.safetensors")


@pytest.mark.parametrize("channel_embedding", ["none", "learned"])
def test_parameter_counts_count_every_parameter_including_the_channel_embedding(channel_embedding):
    # `tinymyo plan` and `import-torch` report these counts; a part left out understates memory
    from flax import nnx

    from tinymyo_jax.models.summary import parameter_counts

    model = build_model(preset("tinymyo", channel_embedding=channel_embedding))
    every_leaf = sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(nnx.to_pure_dict(nnx.state(model, nnx.Param))))
    counts = parameter_counts(model)
    assert counts["total"] == every_leaf
    assert (counts["channel_embed"] > 0) == (channel_embedding == "learned")

"""Layer-wise learning-rate decay really applies per block of the encoder."""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

from tinymyo_jax.evaluate.config import finetune_config
from tinymyo_jax.train.finetune import finetune_optimizer, layer_index, layer_lr_scales
from tinymyo_jax.models.checkpoint import params_of
from tinymyo_jax.models.config import preset
from tinymyo_jax.models.tinymyo import build_model

DEPTH, DECAY, LR = 3, 0.5, 1e-2


def _params():
    config = preset("tinyissimo", embed_dim=16, depth=DEPTH, num_heads=2, head="classification", num_outputs=4, num_channels=2)
    return params_of(build_model(config))


def test_layer_index_orders_embedding_blocks_and_head():
    params = _params()
    depth_of = {jax.tree_util.keystr(path): layer_index(path, DEPTH) for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]}
    assert depth_of["['encoder']['patch_embed']['proj']['kernel']"] == 0
    assert depth_of["['encoder']['mask_token']"] == 0
    assert depth_of["['encoder']['blocks'][0]['attn']['qkv']['kernel']"] == 1
    assert depth_of["['encoder']['blocks'][2]['mlp']['fc2']['bias']"] == 3
    assert depth_of["['encoder']['norm']['scale']"] == DEPTH + 1
    assert depth_of["['head']['classifier']['kernel']"] == DEPTH + 1


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_the_first_adamw_step_of_each_block_is_lr_times_its_decay_power(weight_decay):
    params = _params()
    config = finetune_config("epn612")
    config.optimizer.layer_decay = DECAY
    config.optimizer.weight_decay = weight_decay
    optimizer = finetune_optimizer(config, params, DEPTH, optax.constant_schedule(LR))
    # Adam's first step is lr · g / (|g| + eps) ≈ lr · sign(g): its size is the layer's lr.
    grads = jax.tree.map(lambda p: np.random.default_rng(p.size).normal(size=p.shape).astype(np.float32) + 3.0, params)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    for path, update in jax.tree_util.tree_flatten_with_path(updates)[0]:
        param = _leaf(params, path)
        scale = DECAY ** (DEPTH + 1 - layer_index(path, DEPTH))
        decayed = weight_decay if np.ndim(param) >= 2 else 0.0  # decay on matrices only
        expected = -LR * scale * (np.sign(_leaf(grads, path)) + decayed * np.asarray(param))
        np.testing.assert_allclose(np.asarray(update), expected, rtol=1e-4, atol=1e-9, err_msg=jax.tree_util.keystr(path))


def test_blocks_get_distinct_learning_rates_from_embedding_to_head():
    scales = layer_lr_scales(_params(), DEPTH, 0.9)
    per_block = [scales["encoder"]["blocks"][i]["attn"]["qkv"]["kernel"] for i in range(DEPTH)]
    assert per_block == pytest.approx([0.9**3, 0.9**2, 0.9])
    assert scales["encoder"]["patch_embed"]["proj"]["kernel"] == pytest.approx(0.9**4)
    assert scales["head"]["classifier"]["kernel"] == 1.0 and scales["encoder"]["norm"]["bias"] == 1.0


def _leaf(tree, path):
    for key in path:
        tree = tree[getattr(key, "key", getattr(key, "idx", key))]
    return tree

"""Gradient accumulation and data parallelism give the whole batch's gradient, with dropout on
and padded channels: the path `micro_batch_size > 0` that the demo, `tinymyo.py:runlocal` and
benchmarks/train_step.py run.

The gradients are those of `make_gradient_fn`, the function `make_train_step` updates with.
Each injected defect below was seen to fail these tests (relative error of the accumulated
gradient against the whole batch's, micro-batches of 1 / 2 / 4; 4 is the whole batch, so it
cannot differ; the tests pass at <= 4e-7):
- dropout keyed by micro-batch (the code before this test: `fold_in(dropout_key, index)` and
  mask rows counted within the micro-batch): 0.58 / 0.71;
- the last micro-batch dropped from the scan: 0.41 / 0.66;
- each micro-batch normalised by its own element counts (a mean per micro-batch, summed):
  3.4 / 1.03.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from tinymyo_jax.models.tinymyo import TinyMyo
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train.config import base_config
from tinymyo_jax.train.pretrain import model_config_from
from tinymyo_jax.train.step import make_gradient_fn

REPO = Path(__file__).resolve().parents[2]
BATCH, CHANNELS, SAMPLES = 4, 4, 200
STEP = 3  # any step: keys are fold_in(seed, step)
TOLERANCE = 1e-5


def _config(micro_batch_size: int, dropout: float = 0.1):
    config = base_config()
    config.model.preset = "tinyissimo"
    config.model.embed_dim, config.model.depth, config.model.num_heads = 32, 2, 2
    config.model.dropout = config.model.attention_dropout = config.model.drop_path = dropout
    config.global_batch_size = BATCH
    config.micro_batch_size = micro_batch_size
    return config


def _params_and_batch(config):
    model_config = model_config_from(config)
    graphdef, params = nnx.split(TinyMyo(model_config, rngs=nnx.Rngs(params=1)))
    rng = np.random.default_rng(0)
    emg = rng.normal(size=(BATCH, CHANNELS, SAMPLES)).astype(np.float32)
    channel_mask = np.ones((BATCH, CHANNELS), bool)
    channel_mask[1, 3] = channel_mask[2, 2:] = False  # padded channels: zeros, as prepared data pads them
    emg[~channel_mask] = 0.0
    return graphdef, model_config, nnx.to_pure_dict(params), {"emg": emg, "channel_mask": channel_mask}


def gradients(micro_batch_size: int, mesh=None, dropout: float = 0.1):
    """(gradients as a flat {path: array}, loss terms) of the test batch at STEP."""
    config = _config(micro_batch_size, dropout)
    graphdef, model_config, params, batch = _params_and_batch(config)
    micro_sharding = None
    if mesh is not None:
        micro_sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(None, mesh_lib.BATCH_AXES))
        batch = jax.device_put(batch, mesh_lib.batch_sharding(mesh))
        params = jax.device_put(params, mesh_lib.replicated(mesh))
    fn = jax.jit(make_gradient_fn(graphdef, model_config, config, micro_sharding))
    grads, terms = jax.device_get(fn(params, batch, jnp.asarray(STEP, jnp.int32)))
    flat = {jax.tree_util.keystr(path): np.asarray(leaf) for path, leaf in jax.tree_util.tree_leaves_with_path(grads)}
    return flat, {k: float(v) for k, v in terms.items()}


def relative_error(grads: dict, reference: dict) -> float:
    """‖g − g_ref‖ / ‖g_ref‖ over all parameters, and the worst single leaf by its own norm."""
    assert grads.keys() == reference.keys()
    diff = np.sqrt(sum(float(np.sum((grads[k].astype(np.float64) - reference[k]) ** 2)) for k in reference))
    norm = np.sqrt(sum(float(np.sum(reference[k].astype(np.float64) ** 2)) for k in reference))
    worst_leaf = max(
        float(np.linalg.norm(grads[k].astype(np.float64) - reference[k]) / np.linalg.norm(reference[k]))
        for k in reference if np.linalg.norm(reference[k]) > 1e-6 * norm
    )
    return max(diff / norm, worst_leaf)


@pytest.fixture(scope="module")
def whole_batch():
    return gradients(0)


@pytest.mark.parametrize("micro_batch_size", [1, 2, 4])
def test_accumulated_gradient_equals_the_whole_batch_gradient(whole_batch, micro_batch_size):
    reference, reference_terms = whole_batch
    grads, terms = gradients(micro_batch_size)
    assert relative_error(grads, reference) < TOLERANCE
    for name, value in reference_terms.items():
        assert terms[name] == pytest.approx(value, rel=TOLERANCE), name


def test_dropout_is_on_in_the_compared_gradients(whole_batch):
    """Guards the test above: without dropout the gradient is clearly different, so the
    comparison covers the dropout masks (and the padded channels carry no gradient signal)."""
    reference, _ = whole_batch
    without_dropout, _ = gradients(0, dropout=0.0)
    assert relative_error(without_dropout, reference) > 0.05


@pytest.mark.slow
def test_two_device_data_parallel_gradient_equals_the_single_device_gradient(whole_batch, tmp_path):
    """A 2-device mesh (JAX CPU devices in a subprocess), whole batch and 2 micro-batches of 2."""
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES="2", PYTHONPATH=str(REPO))
    env.pop("XLA_FLAGS", None)
    out = tmp_path / "grads.npz"
    result = subprocess.run([sys.executable, "-m", "tests.train.test_accumulation", str(out)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = np.load(out)
    assert int(saved["devices"]) == 2
    reference, _ = whole_batch
    for micro_batch_size in (0, 2):
        grads = {k[len(f"{micro_batch_size}/"):]: saved[k] for k in saved.files if k.startswith(f"{micro_batch_size}/")}
        assert relative_error(grads, reference) < TOLERANCE, f"micro_batch_size {micro_batch_size}"


def _save_data_parallel_gradients(path: str) -> None:
    mesh = mesh_lib.make_mesh(1)
    arrays = {"devices": np.asarray(jax.device_count())}
    for micro_batch_size in (0, 2):
        grads, _ = gradients(micro_batch_size, mesh=mesh)
        arrays.update({f"{micro_batch_size}/{k}": v for k, v in grads.items()})
    np.savez(path, **arrays)


if __name__ == "__main__":
    _save_data_parallel_gradients(sys.argv[1])

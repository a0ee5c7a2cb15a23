"""Pretraining learns: the trainer's own step brings the validation masked loss far below every
no-model predictor of `train/no_model_baselines.py`, and does not when the update's sign is flipped or
the loss weights are swapped.

Signals: one channel, 400 samples (20 patches) at 2 kHz, the sum of three narrow-band sources
(60, 110 and 170 Hz) with a random amplitude and phase per window: structured (a masked patch
follows from the visible ones) but not predictable by copying or averaging neighbouring patches
(1.2 to 3.4 cycles per patch). One channel because TinyMyo's masked tokens carry no channel
identity (see baselines.py): with several channels of different content the best the model can
predict for a masked patch is what all channels share at that time, which is what a
cross-channel baseline predicts too; one channel makes the test about the trained model alone.

The step runs as 4 micro-batches of 8 (the accumulation path of the demo and `runlocal`; the
numbers are the same to 4 digits with the whole batch at once).
Measured when written (2026-12-02, 300 steps at batch 32, 2-core CPU, ~15 s of CPU per case),
validation masked loss against the best baseline, `zero` 0.1403 (`neighbour_level` 0.1419,
`neighbour_mean` 0.2108):
- the trainer as it is: 0.0651, ratio 0.46 (criterion: <= 0.70);
- update sign flipped (`optax.scale(-1)` after AdamW): 19.8, ratio 141;
- loss weights swapped (masked x 0.1, visible x 1.0): 0.1158, ratio 0.83 (the visible
  reconstruction is learned, the masked one hardly).
The same two defects written into train/step.py itself (negated updates; the loss expression
with the weights exchanged) gave the same numbers in the un-injected case. With the
`time_interp` and `channel_mean` baselines of the h-tokens branch: 0.2058 and 0.1403 (one
channel: no other channel to average, so it predicts 0), ratio unchanged at 0.46.
The two defect cases are run below and must miss the criterion.
"""

from __future__ import annotations

import jax
import numpy as np
import optax
import pytest
from flax import nnx

from tinymyo_jax.models.tinymyo import TinyMyo
from tinymyo_jax.train import mesh as mesh_lib
from tinymyo_jax.train import step as step_lib
from tinymyo_jax.train.config import base_config
from tinymyo_jax.train.optimizer import learning_rate_schedule, make_optimizer
from tinymyo_jax.train.evaluators import evaluate
from tinymyo_jax.train.pretrain import model_config_from

FS = 2000.0
SAMPLES = 400
SOURCE_HZ = (60.0, 110.0, 170.0)
BATCH = 32
STEPS = 300
TRAIN_WINDOWS, EVAL_BATCHES = 512, 4
MAX_RATIO = 0.7  # validation masked loss must be at least 30% below the best baseline


def structured_windows(count: int, seed: int) -> np.ndarray:
    """(count, 1, SAMPLES) sums of the SOURCE_HZ sinusoids, random amplitude and phase each."""
    rng = np.random.default_rng(seed)
    t = np.arange(SAMPLES) / FS
    freqs = np.asarray(SOURCE_HZ)[None, :, None]
    amplitude = rng.uniform(0.3, 1.0, size=(count, len(SOURCE_HZ), 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(count, len(SOURCE_HZ), 1))
    return (amplitude * np.sin(2 * np.pi * freqs * t + phase)).sum(axis=1, keepdims=True).astype(np.float32)


def _config():
    config = base_config()
    config.model.preset = "tinyissimo"
    config.model.embed_dim, config.model.depth, config.model.num_heads = 32, 2, 2
    config.model.dropout = config.model.attention_dropout = config.model.drop_path = 0.0
    config.global_batch_size = BATCH
    config.micro_batch_size = 8  # the accumulation path the demo and runlocal take (4 micro-batches)
    config.total_steps = STEPS
    config.optimizer.lr = 2e-3
    config.optimizer.warmup_steps = 20
    config.optimizer.end_lr = 1e-5
    config.eval_batches = EVAL_BATCHES
    return config


def _swap_loss_weights(monkeypatch) -> None:
    """The train step's loss with masked and visible terms exchanged: masked x visible_weight
    (0.1), visible x 1.0. Patched where the step combines its terms (evaluation is unaffected)."""
    combine = step_lib.combine_loss_terms

    def swapped(terms, visible_weight):
        exchanged = {"masked_sum": terms["visible_sum"], "masked_count": terms["visible_count"],
                     "visible_sum": terms["masked_sum"], "visible_count": terms["masked_count"]}
        return combine(exchanged, visible_weight)

    monkeypatch.setattr(step_lib, "combine_loss_terms", swapped)


def pretrain_and_evaluate(defect: str | None, monkeypatch) -> dict[str, float]:
    """Train with `make_train_step` for STEPS steps, then the trainer's `evaluate` (validation
    masked loss and every baseline's, as `baseline_<name>_masked_loss`)."""
    config = _config()
    model_config = model_config_from(config)
    graphdef, params = nnx.split(TinyMyo(model_config, rngs=nnx.Rngs(params=0)))
    params = nnx.to_pure_dict(params)
    optimizer = make_optimizer(config)
    if defect == "sign_flipped_update":
        optimizer = optax.chain(optimizer, optax.scale(-1.0))
    elif defect == "swapped_loss_weights":
        _swap_loss_weights(monkeypatch)
    train_step = jax.jit(step_lib.make_train_step(step_lib.reconstruction_gradients(graphdef, model_config, config),
                                                  optimizer, learning_rate_schedule(config)))
    state = step_lib.init_state(params, optimizer)
    train = structured_windows(TRAIN_WINDOWS, seed=0)
    channel_mask = np.ones((BATCH, 1), bool)
    order = np.random.default_rng(1)
    for _ in range(STEPS):
        rows = order.choice(TRAIN_WINDOWS, BATCH, replace=False)
        state, _ = train_step(state, {"emg": train[rows], "channel_mask": channel_mask})
    monkeypatch.undo()

    validation = structured_windows(EVAL_BATCHES * BATCH, seed=2)
    reader = lambda index: {"emg": validation[index * BATCH:(index + 1) * BATCH], "channel_mask": channel_mask}
    eval_step = jax.jit(step_lib.make_eval_step(graphdef, model_config, config))
    sharding = mesh_lib.batch_sharding(mesh_lib.make_mesh(1, jax.devices()[:1]))
    return evaluate(eval_step, state["params"], reader, config, sharding, model_config)["metrics"]


@pytest.mark.slow
@pytest.mark.parametrize("defect", [None, "sign_flipped_update", "swapped_loss_weights"])
def test_pretraining_beats_every_baseline_and_fails_to_when_broken(defect, monkeypatch):
    metrics = pretrain_and_evaluate(defect, monkeypatch)
    baselines = {k: v for k, v in metrics.items() if k.startswith("baseline_")}
    assert {"baseline_zero_masked_loss", "baseline_neighbour_level_masked_loss"} <= baselines.keys()
    best_name = min(baselines, key=baselines.get)
    ratio = metrics["masked_loss"] / baselines[best_name]
    print(f"defect={defect}: masked loss {metrics['masked_loss']:.4f}, best {best_name} {baselines[best_name]:.4f}, "
          f"ratio {ratio:.3f}; all {baselines}")
    if defect is None:
        assert ratio <= MAX_RATIO, f"masked loss {metrics['masked_loss']:.4f} is not 30% below {best_name}"
    else:
        assert ratio > MAX_RATIO, f"the {defect} run still met the learning criterion: the test cannot catch it"

"""Range checks of a pretraining config's numbers: one line naming the field, before anything runs.

A negative learning rate trains uphill, a mask ratio of 1.5 masks every token (and -0.5 none),
and both ran silently. Each rule below says what the field can be and why.
"""

from __future__ import annotations

import math

import ml_collections

from tinymyo_jax.errors import UserError


def _number(config: ml_collections.ConfigDict, dotted: str) -> float:
    node = config
    for part in dotted.split("."):
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)) or not math.isfinite(node):
        raise UserError(f"config.{dotted} must be a finite number, got {node!r}")
    return float(node)


def _require(config: ml_collections.ConfigDict, dotted: str, ok, rule: str) -> None:
    value = _number(config, dotted)
    if not ok(value):
        raise UserError(f"config.{dotted} must be {rule}, got {value:g}")


def check_optimizer(config: ml_collections.ConfigDict) -> None:
    """config.optimizer (train/optimizer.py): AdamW with warm-up and cosine decay."""
    # 0 is allowed: the parameters stay where init_from put them (tests/train/test_pretrain.py)
    _require(config, "optimizer.lr", lambda v: v >= 0, ">= 0 (the peak learning rate)")
    _require(config, "optimizer.end_lr", lambda v: v >= 0, ">= 0")
    _require(config, "optimizer.warmup_steps", lambda v: v >= 0, ">= 0")
    _require(config, "optimizer.b1", lambda v: 0 <= v < 1, "in [0, 1)")
    _require(config, "optimizer.b2", lambda v: 0 <= v < 1, "in [0, 1)")
    _require(config, "optimizer.weight_decay", lambda v: v >= 0, ">= 0")
    _require(config, "optimizer.clip_norm", lambda v: v >= 0, ">= 0 (0: no clipping)")


def check_values(config: ml_collections.ConfigDict) -> None:
    """Every numeric field of a pretraining config that has a range."""
    for name in ("total_steps", "global_batch_size", "log_every_steps", "eval_every_steps", "eval_batches",
                 "plot_every_steps"):  # fmt: skip
        _require(config, name, lambda v: v >= 1 and v == int(v), "a whole number >= 1")
    check_optimizer(config)
    # a ratio of 0 masks no token (no masked loss), 1 leaves none visible to reconstruct from
    _require(config, "masking.ratio", lambda v: 0 < v < 1, "strictly between 0 and 1 (the fraction of tokens masked)")
    _require(config, "loss.visible_weight", lambda v: v >= 0, ">= 0")
    for name in ("dropout", "attention_dropout", "drop_path"):
        _require(config, f"model.{name}", lambda v: 0 <= v < 1, "in [0, 1)")
    for name in ("embed_dim", "depth", "num_heads"):
        _require(config, f"model.{name}", lambda v: v >= 0 and v == int(v), "a whole number >= 0 (0: the preset's)")
    _require(config, "checkpoint.every_steps", lambda v: v >= 0, ">= 0")
    _require(config, "checkpoint.keep", lambda v: v >= 1, ">= 1")

"""The training settings a run record pins (train/workdir.py), beside model, data, init and seed.

Resuming a workdir under another learning rate, schedule, mask ratio or loss weighting
continued the old run under the new settings (the masked loss went from 0.056 to 0.53). So the
record holds every config field that changes what is trained:

- pretraining: the optimizer (lr, end_lr, warm-up, betas, weight decay, clipping), the schedule's
  length (total_steps: the cosine decays over it), masking, the loss weights, the compute dtype,
  the training split and the channel mask; the model section already holds normalisation,
  dropout and the architecture.
- fine-tuning: the optimizer (with layer decay and warm-up epochs), the loss, the fine-tuning
  schedule (epochs, batch size, head init and coordinates) and early stopping.

Fields that change only how the run is executed (logging, evaluation and checkpoint cadence,
the mesh, micro-batching, worker counts) are left out: a rerun may change them.
"""

from __future__ import annotations

from typing import Any

import ml_collections

PRETRAINING_FIELDS = ("optimizer", "total_steps", "masking", "loss", "compute_dtype", "matmul_dtype",
                      "data.train_split", "data.use_channel_mask")  # fmt: skip
FINETUNING_FIELDS = ("optimizer", "loss", "finetune.epochs", "finetune.batch_size", "finetune.head_init",
                     "finetune.head_coordinates", "early_stopping", "matmul_dtype")  # fmt: skip


# Fields added after runs were recorded, at the value that reproduces those runs: a record leaves
# such a field out while it holds that value, so a workdir recorded before the field existed
# still resumes (and one started with another value is refused, naming it).
LATER_DEFAULTS = {"masking.pattern": "random", "matmul_dtype": "float32"}


def _value(config: ml_collections.ConfigDict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, (ml_collections.ConfigDict, dict)) or part not in node:
            return "<unset>"
        node = node[part]
    return node.to_dict() if isinstance(node, ml_collections.ConfigDict) else node


def training_settings(config: ml_collections.ConfigDict, fields: tuple[str, ...]) -> dict[str, Any]:
    """{"training": {field: value}} for the record; nested sections stay nested dicts, without
    the LATER_DEFAULTS entries that hold their default."""
    training = {field: _value(config, field) for field in fields}
    for dotted, default in LATER_DEFAULTS.items():
        section, _, key = dotted.rpartition(".")
        if not section and training.get(key, default) == default:
            training.pop(key, None)
        elif isinstance(training.get(section), dict) and training[section].get(key) == default:
            del training[section][key]
    return {"training": training}

"""Fine-tuning: a labelled corpus of your own recordings (`tinymyo prep generic --name NAME --label-...`).

    tinymyo finetune --config configs/finetune/generic.py:NAME --workdir runs/finetune_NAME \\
        --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds

`arg` = NAME, or NAME:runlocal / NAME:tiny for the small variants.
Fields and defaults: tinymyo_jax/evaluate/config.py; outputs: docs/evaluate.md.
"""

from tinymyo_jax.evaluate.config import finetune_config, generic_arg


def get_config(arg: str | None = None):
    return finetune_config(*generic_arg(arg, "finetune"))

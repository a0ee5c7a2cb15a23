"""Linear probe: a labelled corpus of your own recordings (`tinymyo prep generic --name NAME --label-...`).

    tinymyo probe --config configs/probe/generic.py:NAME --workdir runs/probe_NAME \\
        --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds

`arg` = NAME, or NAME:runlocal / NAME:tiny for the small variants (see configs/probe/uci_emg.py).
Fields and defaults: tinymyo_jax/evaluate/config.py; outputs: docs/evaluate.md.
"""

from tinymyo_jax.evaluate.config import generic_arg, probe_config


def get_config(arg: str | None = None):
    return probe_config(*generic_arg(arg, "probe"))

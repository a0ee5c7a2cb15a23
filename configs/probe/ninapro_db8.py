"""Linear probe: NinaPro DB8, 5 degrees of actuation (16 ch, 2 kHz, 0.5-s windows).

    tinymyo probe --config configs/probe/ninapro_db8.py --workdir runs/probe_ninapro_db8 \\
        --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds

`arg` = "runlocal" (at most 512 windows per split, small random encoder) or "tiny" (tests):
    --config configs/probe/ninapro_db8.py:runlocal
Fields and defaults: tinymyo_jax/evaluate/config.py; outputs: docs/evaluate.md.
"""

from tinymyo_jax.evaluate.config import probe_config


def get_config(arg: str | None = None):
    return probe_config("ninapro_db8", arg)

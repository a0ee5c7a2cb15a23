"""Linear probe: EPN-612, 6 gestures (8 ch, 200 Hz, 5-s trials).

    tinymyo probe --config configs/probe/epn612.py --workdir runs/probe_epn612 \\
        --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds

`arg` = "runlocal" (at most 512 windows per split, small random encoder) or "tiny" (tests):
    --config configs/probe/epn612.py:runlocal
Fields and defaults: tinymyo_jax/evaluate/config.py; outputs: docs/evaluate.md.
"""

from tinymyo_jax.evaluate.config import probe_config


def get_config(arg: str | None = None):
    return probe_config("epn612", arg)

"""Linear probe: UCI EMG, 6 gestures (8 ch, 1000-sample windows).

    tinymyo probe --config configs/probe/uci_emg.py --workdir runs/probe_uci_emg \\
        --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds

`arg` = "runlocal" (at most 512 windows per split, small random encoder) or "tiny" (tests):
    --config configs/probe/uci_emg.py:runlocal
Fields and defaults: tinymyo_jax/evaluate/config.py; outputs: docs/evaluate.md.
"""

from tinymyo_jax.evaluate.config import probe_config


def get_config(arg: str | None = None):
    return probe_config("uci_emg", arg)

"""Fine-tuning: UCI EMG, 6 gestures (8 ch, 1000-sample windows).

    tinymyo finetune --config configs/finetune/uci_emg.py --workdir runs/finetune_uci_emg \\
        --config.init=runs/pretrain/checkpoints --config.data.data_dir=runs/tfds

TinyMyo's recipe: AdamW lr 5e-4 (betas 0.9/0.98, wd 0.01), 5 warm-up epochs then cosine,
layer-wise lr decay 0.9, label smoothing 0.1, 50 epochs, batch 32, early
stopping on validation loss (patience 7). Running the same command again after a crash or
SIGKILL resumes. `arg` = "runlocal" or "tiny" (tests). Fields: tinymyo_jax/evaluate/config.py.
"""

from tinymyo_jax.evaluate.config import finetune_config


def get_config(arg: str | None = None):
    return finetune_config("uci_emg", arg)

"""TinyMyo pretraining, the paper's recipe.

    tinymyo pretrain --config configs/pretrain/tinymyo.py --workdir runs/tinymyo
    tinymyo pretrain --config configs/pretrain/tinymyo.py:runlocal --workdir runs/local   # smoke-size

50% masking, SmoothL1 + 0.1 x visible, AdamW (0.9, 0.98) wd 0.01, peak lr 1e-4 with warm-up
then cosine to 1e-6, clip 3, global batch 512, on NinaPro DB6 + DB7 + emg2pose prepared with
`tinymyo prep` (see docs/data.md). On GPUs/TPUs add --config.compute_dtype=bfloat16.
"""

from tinymyo_jax.train.config import apply_variants, base_config


def get_config(arg: str | None = None):
    config = base_config()
    variants = apply_variants(config, arg, known=("runlocal",))  # "reference": the published rope + min-max
    config.model.preset = "tinymyo"
    # The paper trains 50 epochs with 10 of warm-up; in steps for ~480 GB of windows at batch
    # 512 that is ~200k steps. Step-based so that resumes and mixtures are exact.
    config.total_steps = 200_000
    config.optimizer.warmup_steps = 40_000
    config.checkpoint.every_steps = 2_000
    config.eval_every_steps = 2_000
    config.plot_every_steps = 10_000
    if "runlocal" in variants:
        config.xla_cpu_tricks = True  # the local smoke run is a CPU run (train/config.py)
        config.total_steps = 20
        config.optimizer.warmup_steps = 5
        config.global_batch_size = 8
        config.micro_batch_size = 1
        config.checkpoint.every_steps = 10
        config.eval_every_steps = 10
        config.plot_every_steps = 10
        config.eval_batches = 1
        config.log_every_steps = 1
    return config

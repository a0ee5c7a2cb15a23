"""TinyissimoMyo pretraining: TinyMyo's recipe with 4 blocks instead of 8.

    tinymyo pretrain --config configs/pretrain/tinyissimo.py --workdir runs/tinyissimo
"""

from tinymyo_jax.train.config import apply_variants, base_config


def get_config(arg: str | None = None):
    config = base_config()
    apply_variants(config, arg)  # "reference": the published rope + min-max
    config.model.preset = "tinyissimo"
    config.total_steps = 200_000
    config.optimizer.warmup_steps = 40_000
    config.checkpoint.every_steps = 2_000
    config.eval_every_steps = 2_000
    config.plot_every_steps = 10_000
    return config

"""tinymyo-jax: TinyMyo, the surface-EMG foundation model, in JAX/Flax.

The public entry points most users need are re-exported here lazily, so that
`import tinymyo_jax` (and `tinymyo --help`) stays fast and does not import JAX.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "TinyMyo": "tinymyo_jax.models.tinymyo",
    "ModelConfig": "tinymyo_jax.models.config",
    "build_model": "tinymyo_jax.models.tinymyo",
    "load_torch_checkpoint": "tinymyo_jax.models.torch_io",
    "save_torch_checkpoint": "tinymyo_jax.models.torch_io",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tinymyo_jax' has no attribute {name!r}")


__all__ = sorted(_LAZY) + ["__version__"]

"""Packages of the wheel; everything else is in pyproject.toml.

Only here because pyproject.toml cannot combine package discovery with a mapping: the presets
stay in the repository's `configs/` (where the docs and tests name them) and ship in the wheel as
the package `tinymyo_jax.configs`, so an installed `tinymyo` finds them without a checkout
(tinymyo_jax/config_files.py: preset_root).
"""

from setuptools import find_namespace_packages, setup

PRESETS = ["tinymyo_jax.configs"] + [f"tinymyo_jax.configs.{name}" for name in find_namespace_packages("configs")]

setup(
    packages=find_namespace_packages(include=["tinymyo_jax*"]) + PRESETS,
    package_dir={"tinymyo_jax.configs": "configs"},
)

"""Configs as code: load `get_config(arg)` files and apply `--config.a.b=value` overrides.

    tinymyo pretrain --config configs/pretrain/tinymyo.py:runlocal --config.optimizer.lr=3e-4

A config file is a Python module whose `get_config(arg: str | None)` returns an
ml_collections.ConfigDict; the text after ':' is passed as `arg`. An override's value is
parsed as a Python literal and converted to the type of the field it replaces, so a typo in a
field name or a value of the wrong kind is a one-line error, not a silently ignored setting.
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Sequence

import ml_collections

from tinymyo_jax.errors import UserError


def load_config_file(spec: str) -> ml_collections.ConfigDict:
    """`path/to/config.py[:arg]` -> the ConfigDict its get_config(arg) returns."""
    path_text, _, arg = spec.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise UserError(f"config file {path} not found")
    module_spec = importlib.util.spec_from_file_location(f"tinymyo_config_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:
        raise UserError(f"config file {path} failed to load: {type(err).__name__}: {err}") from err
    if not hasattr(module, "get_config"):
        raise UserError(f"config file {path} defines no get_config(arg)")
    config = module.get_config(arg or None)
    if not isinstance(config, ml_collections.ConfigDict):
        raise UserError(f"{path}: get_config must return an ml_collections.ConfigDict")
    return config


# Config mappings whose keys are data, not schema: overrides may add keys to them.
OPEN_MAPPINGS = {"data.mixture"}


def _parse_value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return text  # a bare string, e.g. a path


def apply_override(config: ml_collections.ConfigDict, assignment: str) -> None:
    """Apply one `a.b.c=value` to config in place."""
    if "=" not in assignment:
        raise UserError(f"override {assignment!r} must look like --config.field=value")
    dotted, _, text = assignment.partition("=")
    *parents, leaf = dotted.split(".")
    node = config
    for index, name in enumerate(parents):
        if not isinstance(node, (ml_collections.ConfigDict, dict)) or name not in node:
            raise UserError(f"unknown config field {'.'.join(parents[: index + 1])!r}")
        node = node[name]
    value = _parse_value(text)
    if ".".join(parents) in OPEN_MAPPINGS and leaf not in node:
        with node.unlocked() if isinstance(node, ml_collections.ConfigDict) else _nullcontext():
            node[leaf] = value
        return
    if leaf not in node:
        raise UserError(f"unknown config field {dotted!r}")
    current = node[leaf]
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise UserError(f"config field {dotted!r} is a bool; got {text!r}")
    elif isinstance(current, int) and not isinstance(current, bool):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise UserError(f"config field {dotted!r} is an integer; got {text!r}")
    elif isinstance(current, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise UserError(f"config field {dotted!r} is a number; got {text!r}")
        value = float(value)
    elif isinstance(current, str):
        value = text
    with node.unlocked() if isinstance(node, ml_collections.ConfigDict) else _nullcontext():
        node[leaf] = value


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def load_config(spec: str, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
    config = load_config_file(spec)
    for assignment in overrides:
        apply_override(config, assignment)
    return config


def split_config_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate `--config.x=y` / `--config.x y` arguments from the rest of a command line."""
    rest, overrides = [], []
    items = list(argv)
    i = 0
    while i < len(items):
        item = items[i]
        if item.startswith("--config."):
            body = item[len("--config."):]
            if "=" not in body:
                if i + 1 >= len(items):
                    raise UserError(f"{item} needs a value")
                body = f"{body}={items[i + 1]}"
                i += 1
            overrides.append(body)
        else:
            rest.append(item)
        i += 1
    return rest, overrides


def add_config_run_arguments(parser, *, example: str, workdir_help: str) -> None:
    """The arguments every config-driven command takes: --config, --workdir, --print-config."""
    from tinymyo_jax import storage

    parser.add_argument("--config", required=True, help=f"config file, optionally with ':arg' (e.g. {example})")
    # storage.path, not pathlib.Path: a gs:// workdir must stay a URL
    parser.add_argument("--workdir", required=True, type=storage.path, help=workdir_help)
    parser.add_argument("--print-config", action="store_true", help="print the resolved config and exit")


def config_from_args(args) -> ml_collections.ConfigDict | None:
    """The resolved config of a command line; None (after printing it) with --print-config."""
    config = load_config(args.config, args.config_overrides)
    if args.print_config:
        print(config.to_json_best_effort(indent=2, sort_keys=True))
        return None
    return config

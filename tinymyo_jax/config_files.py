"""Configs as code: `get_config(arg)` files and `--config.a.b=value` overrides, via ml_collections.config_flags.

    tinymyo pretrain --config configs/pretrain/tinymyo.py:runlocal --config.optimizer.lr=3e-4
    tinymyo pretrain --config pretrain/smoke:tiny ...      # a preset shipped with the package

A config file is a Python module whose `get_config(arg: str | None)` returns an
ml_collections.ConfigDict; the text after ':' is passed as `arg`. Loading and typed overrides are
`config_flags.DEFINE_config_file` / `DEFINE_config_dict` on a private absl FlagValues: the
sub-commands parse their other options with argparse, so the CLI hands config_flags only the
`--config` and `--config.*` arguments. An override's value is parsed as the type of the field it
replaces, so a typo in a field name or a value of the wrong kind is a one-line error.

Two things config_flags does not do are added here: (1) presets: a path that is not a file names
the preset of the same name shipped in the package (`configs/` in a checkout, the package
`tinymyo_jax.configs` once installed), so `configs/pretrain/smoke.py`, `pretrain/smoke.py` and
`pretrain/smoke` all work from any directory; (2) keys of `data.mixture` are data, not schema:
`--config.data.mixture.NAME=W` adds or sets one corpus weight (config_flags would reject a new key).
"""

from __future__ import annotations

import ast
import difflib
import sys
import warnings
from pathlib import Path
from typing import Sequence

import ml_collections
from absl import flags
from ml_collections import config_flags

import tinymyo_jax
from tinymyo_jax import storage
from tinymyo_jax.errors import UserError

# Config mappings whose keys are data, not schema: overrides may add keys to them.
OPEN_MAPPINGS = ("data.mixture",)
# Mappings whose entries are the user's data (mixture weights, evaluator entries), not fields.
_DATA_MAPPINGS = (*OPEN_MAPPINGS, "evals")


def preset_root() -> Path:
    """The folder of the shipped presets: `tinymyo_jax/configs` in an installed wheel, the
    checkout's `configs/` beside the package otherwise (setup.py maps one onto the other)."""
    package = Path(tinymyo_jax.__file__).parent
    installed = package / "configs"
    return installed if installed.is_dir() else package.parent / "configs"


def list_presets() -> list[str]:
    """Names of the shipped presets, e.g. ['finetune/epn612', ..., 'pretrain/smoke', ...]."""
    root = preset_root()
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.glob("*/*.py") if p.name != "__init__.py")


def resolve_config_path(path_text: str) -> Path:
    """A config file path, or the shipped preset it names (`pretrain/smoke`, `configs/pretrain/smoke.py`)."""
    path = Path(path_text)
    if path.is_file():
        return path
    name = path_text.removeprefix("tinymyo_jax/").removeprefix("configs/").removesuffix(".py")
    preset = preset_root() / f"{name}.py"
    if name and preset.is_file():
        return preset
    raise UserError(f"config file {path_text} not found, and it names no shipped preset "
                    f"(presets: {', '.join(list_presets()) or f'none found in {preset_root()}'})")


def _split_open_mapping_overrides(overrides: Sequence[str]) -> tuple[list[str], list[tuple[str, str, object]]]:
    """`data.mixture.NAME=W` -> (parent, key, value) for the open mappings; the rest for config_flags."""
    typed, open_keys = [], []
    for assignment in overrides:
        if "=" not in assignment:
            raise UserError(f"override {assignment!r} must look like --config.field=value")
        dotted, _, text = assignment.partition("=")
        parent, _, key = dotted.rpartition(".")
        if parent in OPEN_MAPPINGS:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = None
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise UserError(f"config field {dotted!r} is a number (a mixture weight); got {text!r}")
            open_keys.append((parent, key, float(value)))
        else:
            typed.append(assignment)
    return typed, open_keys


def _config_flag_value(define, argv: list[str]) -> ml_collections.ConfigDict:
    """Define the `config` flag on a private absl FlagValues (argparse owns the rest of the command
    line), parse `argv` with it and return the flag's value."""
    flag_values = flags.FlagValues()
    define(config_flags, flag_values, argv)
    with warnings.catch_warnings():  # config_flags' own load_module() call; nothing the user can change
        warnings.filterwarnings("ignore", r"the load_module\(\) method is deprecated", DeprecationWarning)
        flag_values(argv)
    return flag_values["config"].value


def load_config_file(spec: str) -> ml_collections.ConfigDict:
    """`path/to/config.py[:arg]` (or a preset name) -> the ConfigDict its get_config(arg) returns."""
    path_text, colon, arg = spec.partition(":")
    path = resolve_config_path(path_text)
    argv = ["tinymyo", f"--config={path}{colon}{arg}"]

    def define(config_flags, flag_values, argv):
        config_flags.DEFINE_config_file("config", None, "config file", flag_values=flag_values, lock_config=False,
                                        sys_argv=argv)

    # config_flags loads every file as the module `config_config` with the deprecated
    # load_module(), which re-executes into a cached module: drop it so nothing of an earlier
    # file (e.g. its get_config) survives into this one.
    sys.modules.pop("config_config", None)
    try:
        config = _config_flag_value(define, argv)
    except UserError:
        raise
    except AttributeError as err:
        if "get_config" in str(err):
            raise UserError(f"config file {path} defines no get_config(arg)") from None
        raise UserError(f"config file {path} failed to load: AttributeError: {err}") from None
    except Exception as err:  # the user's config file raised: name it, not our code
        lines = [line for line in str(err).splitlines() if line.strip()]
        raise UserError(f"config file {path} failed to load: {type(err).__name__}: {lines[-1] if lines else ''}") from None
    error = getattr(config, "_error", None)  # config_flags defers a file it could not read
    if error is not None:
        raise UserError(f"config file {path} failed to load: {error}")
    if not isinstance(config, ml_collections.ConfigDict):
        raise UserError(f"{path}: get_config must return an ml_collections.ConfigDict")
    return config


def apply_overrides(config: ml_collections.ConfigDict, overrides: Sequence[str]) -> ml_collections.ConfigDict:
    """Apply `a.b=value` overrides to a config (in place; returned for chaining), each value parsed
    as the type of the field it replaces (config_flags.DEFINE_config_dict)."""
    typed, open_keys = _split_open_mapping_overrides(overrides)
    if typed:
        def define(config_flags, flag_values, argv):
            config_flags.DEFINE_config_dict("config", config, "config", flag_values=flag_values, lock_config=False,
                                            sys_argv=argv)

        try:
            _config_flag_value(define, ["tinymyo", *(f"--config.{o}" for o in typed)])
        except (AttributeError, KeyError):  # config_path: a field that does not exist
            raise UserError(_unknown_field_message(config, typed)) from None
        except flags.Error as err:  # a value of the wrong type, or conflicting overrides
            raise UserError(str(err).splitlines()[0]) from None
    _apply_open_keys(config, open_keys)
    return config


def _unknown_field_message(config: ml_collections.ConfigDict, overrides: Sequence[str]) -> str:
    """Name the first override whose field does not exist, with the closest existing name."""
    for assignment in overrides:
        dotted = assignment.partition("=")[0]
        node, names = config, dotted.split(".")
        for index, name in enumerate(names):
            if not isinstance(node, (ml_collections.ConfigDict, dict)) or name not in node:
                known = list(node.keys()) if isinstance(node, (ml_collections.ConfigDict, dict)) else []
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {'.'.join([*names[:index], close[0]])!r}?)" if close else ""
                return f"unknown config field {'.'.join(names[: index + 1])!r}{hint}"
            node = node[name]
    return f"unknown config field in {', '.join('--config.' + o for o in overrides)}"


def _apply_open_keys(config: ml_collections.ConfigDict, open_keys) -> None:
    for parent, key, value in open_keys:
        node = config
        for name in parent.split("."):
            node = node[name]
        with node.unlocked():
            node[key] = value


def load_config(spec: str, overrides: Sequence[str] = ()) -> ml_collections.ConfigDict:
    """A config file (or preset name) with its `a.b=value` overrides applied."""
    return apply_overrides(load_config_file(spec), overrides)


def split_config_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate `--config.x=y` / `--config.x y` arguments from the argparse part of a command line."""
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


CONFIG_HELP = ("config file, or a preset shipped with the package, optionally with ':arg' (e.g. {example}). "
               "A path that is not a file names the shipped preset of that name, so `configs/pretrain/smoke.py`, "
               "`pretrain/smoke.py` and `pretrain/smoke` work from any directory. Override any field with "
               "--config.FIELD=VALUE (typed as the field). Presets: {presets}")


def add_config_run_arguments(parser, *, example: str, workdir_help: str) -> None:
    """The arguments every config-driven command takes: --config, --workdir, --print-config."""
    kind = example.removeprefix("configs/").split("/")[0]
    presets = ", ".join(p for p in list_presets() if p.startswith(kind + "/")) or "none found"
    parser.add_argument("--config", required=True, help=CONFIG_HELP.format(example=example, presets=presets))
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


def missing_fields(config: ml_collections.ConfigDict, reference: ml_collections.ConfigDict, prefix: str = "") -> list[str]:
    """Dotted names of `reference`'s fields that `config` lacks."""
    missing = []
    for key, value in reference.items():
        name = f"{prefix}{key}"
        if key not in config:
            missing.append(name)
        elif isinstance(value, ml_collections.ConfigDict) and name not in _DATA_MAPPINGS:
            child = config[key]
            if isinstance(child, ml_collections.ConfigDict):
                missing += missing_fields(child, value, f"{name}.")
    return missing


def require_fields(config: ml_collections.ConfigDict, reference: ml_collections.ConfigDict, base: str) -> None:
    """UserError naming the fields of `reference` that `config` lacks: a hand-written get_config
    that starts from an empty ConfigDict would otherwise fail with a KeyError deep inside the run.
    `base` says what to build the config on."""
    missing = missing_fields(config, reference)
    if missing:
        raise UserError(f"the config lacks {len(missing)} field(s) the command reads: {', '.join(missing[:6])}"
                        f"{' ...' if len(missing) > 6 else ''}; build it on {base} and change what differs")  # fmt: skip

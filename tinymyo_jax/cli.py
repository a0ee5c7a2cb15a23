"""The `tinymyo` command line.

Each sub-command lives in its own module under `tinymyo_jax/commands/` and exposes
`HELP` (one line), `add_arguments(parser)` and `run(args) -> int`. Modules are imported only
when their command runs, so `tinymyo --help` answers instantly without importing JAX.
To add a command, add one line to `COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from tinymyo_jax.errors import UserError
from tinymyo_jax.platforms import quiet_cpu_host

# command name -> (module, one-line help). Order is the order shown in --help.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("tinymyo_jax.commands.demo", "run the end-to-end demo on the embedded default data"),
    "summary": ("tinymyo_jax.commands.summary", "print a model's parameter counts per part and FLOPs per window"),
    "pretrain": ("tinymyo_jax.commands.pretrain", "masked-reconstruction pretraining from a config (resumable, multi-host)"),
    "plan": ("tinymyo_jax.commands.plan", "compile the train step for a TPU topology ahead of time: memory, FLOPs, collectives, fit"),
    "import-torch": ("tinymyo_jax.commands.import_torch", "convert reference PyTorch safetensors into an orbax checkpoint"),
    "synth": ("tinymyo_jax.commands.synth", "write small synthetic raw corpora in the original file layouts"),
    "prep": ("tinymyo_jax.commands.prep", "prepare raw corpora into TFDS ArrayRecord window records"),
    "export": ("tinymyo_jax.commands.export", "export a checkpoint to float/int8 TFLite and TFLite Micro C sources with a measured report"),
    "probe": ("tinymyo_jax.commands.probe", "linear probe of a frozen encoder on a benchmark, with baselines"),
    "finetune": ("tinymyo_jax.commands.finetune", "fine-tune the whole model on a benchmark (resumable), with baselines"),
}


def _top_level_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<14} {help_}" for name, (_, help_) in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="tinymyo",
        description="TinyMyo surface-EMG foundation model: data preparation, pretraining, "
        "evaluation and TFLite Micro export.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"commands:\n{lines}\n\nRun `tinymyo COMMAND --help` for a command's options.",
        usage="tinymyo [-h] [--version] COMMAND [ARGS...]",
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_level_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0 if argv else 2
    if argv[0] == "--version":
        from tinymyo_jax import __version__

        print(f"tinymyo-jax {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        top.print_usage(sys.stderr)
        print(f"tinymyo: unknown command {name!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module_name, help_ = COMMANDS[name]
    quiet_cpu_host()  # before any command imports JAX: no libtpu noise on a host without a TPU
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(
        prog=f"tinymyo {name}",
        description=(module.__doc__ or help_).strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    try:
        if getattr(module, "TAKES_CONFIG_OVERRIDES", False):
            # `--config.a.b=value` arguments are not argparse options: collect them apart.
            from tinymyo_jax.config_files import split_config_overrides

            rest, overrides = split_config_overrides(rest)
            args = parser.parse_args(rest)
            args.config_overrides = overrides
        else:
            args = parser.parse_args(rest)
        return int(module.run(args) or 0)
    except UserError as err:
        print(f"tinymyo {name}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinymyo {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (`tinymyo ... | head`): not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The options of `tinymyo prep generic` (users' own recordings) and its builder; see
data/corpora/generic.py.

    tinymyo prep generic --manual_dir DIR --name NAME [--data_dir OUT] [--fs HZ] [--channels SPEC]
        [--subject-regex RE] [--label-column COL | --label-regex RE] [--variable VAR]
        [--rate HZ [--window N] [--stride N]]
"""

from __future__ import annotations

import argparse
from typing import Any

from tinymyo_jax.data.corpora.generic import DATASET  # the corpus these options make configs of

HELP = """\
your own recordings (`tinymyo prep generic --manual_dir DIR --name NAME`): every CSV/TSV/TXT
(header row; a `time` column gives the rate), .npy, .npz, .mat, .edf/.bdf and WFDB .hea file
under DIR, one continuous recording each, becomes windows of the pretraining protocol (2 kHz,
1000 samples, stride 500, 16 rows + channel_mask), addressed as generic/NAME: a pretraining
mixture key (--config.data.mixture="{'generic/NAME': 1.0}"), `--calibration generic/NAME/train`
for export, `configs/probe/generic.py:NAME` for a labelled corpus. Held out for validation (and
test, when labelled): whole subjects, else whole recordings, else the end of each recording.
Unusable files are skipped and listed with the reason in prep_report.json (docs/data.md): among
them a sampling rate outside 100 Hz-100 kHz (a time column in ms needs --time-unit ms), labels
outside int32, repeated or ambiguous CSV columns, and a channel count other than most files'.
--rate cuts the windows at another rate: `--rate 200 --window 200 --stride 100` gives the 1-s
200-Hz windows of the Myo corpora's w200 configs, the windows configs/pretrain/real_small.py's
encoder learnt from (a probe or fine-tune warns when an encoder reads another rate)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(DATASET, HELP)
    group.add_argument("--name", metavar="NAME", help="generic only: the corpus name; it becomes the dataset generic/NAME (letters, digits, _ -)")
    group.add_argument("--fs", type=float, default=None, metavar="HZ",
                       help="sampling rate (Hz) of files that carry none (.npy, CSV without a time column, .npz/.mat "
                            "without fs); files that carry one (EDF/BDF, WFDB, time column, stored fs) must agree within 1%%")  # fmt: skip
    group.add_argument("--rate", type=float, default=None, metavar="HZ",
                       help="rate (Hz) of the prepared windows: every file is resampled to it (default 2000, the "
                            "pretraining protocol's); below 1 kHz the band-pass stops at 90%% of its Nyquist rate "
                            "(20-90 Hz at 200 Hz)")  # fmt: skip
    group.add_argument("--window", type=int, default=None, metavar="N",
                       help="samples per window at --rate (default 0.5 s: 1000 at 2 kHz)")
    group.add_argument("--stride", type=int, default=None, metavar="N", help="samples between window starts (default window/2)")
    group.add_argument("--channels", default=None, metavar="SPEC",
                       help="channels to keep, in order, 0-based: 0-15, 0,2,4, 0-3,8-11 (at most 16); "
                            "required when a file has more than 16")  # fmt: skip
    group.add_argument("--subject-regex", "--subject_regex", default=None, metavar="RE",
                       help="subject = group 1 (else the whole match) of this regex searched in the path relative to "
                            "--manual_dir, e.g. 'S(\\d+)_'; default: the first folder level (files directly in "
                            "--manual_dir form one subject)")  # fmt: skip
    labels = group.add_mutually_exclusive_group()
    labels.add_argument("--label-column", "--label_column", default=None, metavar="COL",
                        help="per-sample integer labels: a CSV column, .npz key or .mat variable of this name; "
                             "the window's label is its majority label")  # fmt: skip
    labels.add_argument("--label-regex", "--label_regex", default=None, metavar="RE",
                        help="one label per file: group 1 (else the match) of this regex on the relative path, "
                             "e.g. 'gesture(\\d+)'")  # fmt: skip
    group.add_argument("--variable", default="emg", metavar="VAR", help=".npz key / .mat variable holding emg [samples, channels] (default emg)")
    group.add_argument("--time-column", "--time_column", default="time", metavar="COL",
                       help="CSV column of sample times (default time); the other columns, but the label column, are channels")  # fmt: skip
    group.add_argument("--time-unit", "--time_unit", choices=("s", "ms"), default="s", help="unit of the time column (default s)")
    group.add_argument("--allow-mixed-channels", "--allow_mixed_channels", action="store_true",
                       help="accept files with different channel counts in one corpus (each file's channels first, padded "
                            "to the most; channel names are then unknown). Without it, files whose count differs from "
                            "the count most files have are skipped with the reason, and a tie is refused")  # fmt: skip


def config_from(args: argparse.Namespace, progress: bool = True) -> Any:
    """The checked GenericConfig of a `tinymyo prep generic` command line, classes included."""
    from tinymyo_jax.data.corpora import generic
    from tinymyo_jax.data.readers import generic as reader
    from tinymyo_jax.errors import UserError

    if args.name is None:
        raise UserError("tinymyo prep generic needs --name NAME (the dataset becomes generic/NAME)")
    if args.config is not None:
        raise UserError("tinymyo prep generic takes --name NAME, not --config")
    config = generic.make_config(
        args.name, fs=args.fs, channels=args.channels, subject_regex=args.subject_regex,
        label_column=args.label_column, label_regex=args.label_regex, variable=args.variable,
        time_column=args.time_column, time_unit=args.time_unit, mixed_channels=args.allow_mixed_channels,
        rate=args.rate, window=args.window, stride=args.stride,
    )  # fmt: skip
    if not args.manual_dir.is_dir():
        raise UserError(f"--manual_dir {args.manual_dir} is not a folder")
    files = reader.list_files(args.manual_dir, generic.DATASET)
    if not files:
        raise UserError(f"{args.manual_dir}: no recordings found (suffixes {', '.join(reader.SUFFIXES)})")
    config = generic.with_channel_count(config, files, args.manual_dir, progress=progress)
    return generic.with_classes(config, files, args.manual_dir, progress=progress)


def used_without_generic(args: argparse.Namespace) -> list[str]:
    """The generic-only options given to a `tinymyo prep` of named corpora."""
    given = {"--name": args.name, "--fs": args.fs, "--channels": args.channels, "--subject-regex": args.subject_regex,
             "--label-column": args.label_column, "--label-regex": args.label_regex, "--rate": args.rate,
             "--window": args.window, "--stride": args.stride}  # fmt: skip
    flagged = ["--allow-mixed-channels"] if getattr(args, "allow_mixed_channels", False) else []
    return [option for option, value in given.items() if value is not None] + flagged


# GenericConfig field -> the option that sets it (what a re-prep compares with the prepared corpus)
OPTION_OF_FIELD = {"fs": "--fs", "channels": "--channels", "subject_regex": "--subject-regex",
                   "label_column": "--label-column", "label_regex": "--label-regex", "variable": "--variable",
                   "time_column": "--time-column", "time_unit": "--time-unit",
                   "mixed_channels": "--allow-mixed-channels", "rate_hz": "--rate", "window": "--window",
                   "stride": "--stride"}  # fmt: skip


def differing_options(options: Any, prepared: dict[str, Any]) -> list[str]:
    """`--option NEW (prepared with OLD)` for each option of `options` (a GenericConfig) that
    differs from the `config` a prepared corpus's prep_report.json records."""
    import dataclasses
    import json

    now = json.loads(json.dumps(dataclasses.asdict(options)))  # tuples -> lists, as the report stores them
    # a report written before an option existed was made with that option's default
    defaults = {f.name: f.default for f in dataclasses.fields(options) if f.default is not dataclasses.MISSING}
    before = {field: prepared.get(field, defaults.get(field)) for field in OPTION_OF_FIELD}
    shown = lambda value: "(none)" if value is None else ",".join(map(str, value)) if isinstance(value, list) else str(value)  # noqa: E731
    return [f"{flag} {shown(now.get(field))} (prepared with {shown(before[field])})"
            for field, flag in OPTION_OF_FIELD.items() if now.get(field) != before[field]]  # fmt: skip

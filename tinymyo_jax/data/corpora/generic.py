"""Users' own recordings as a corpus: the `generic/NAME` protocol behind `tinymyo prep generic`.

    tinymyo prep generic --manual_dir ~/my_emg --name lab2026 --data_dir ~/tfds --fs 1000
    tinymyo pretrain --config configs/pretrain/smoke.py --config.data.mixture="{'generic/lab2026': 1.0}"

A folder of recordings (`readers/generic.py`: CSV/TSV/TXT, NPY, NPZ, MAT, EDF/BDF, WFDB) becomes
window records under the pretraining protocol of the corpora (2 kHz, band-pass 20-450 Hz, 50 Hz
notch, z-score per recording, 1000-sample windows, stride 500, 16 rows + channel_mask), with the
same code: `protocols.at_rate`, `signal.preprocess`, `window_record.records`, the shared builder.

On disk and everywhere a dataset name is taken it is the TFDS dataset `generic` with builder
config NAME (`<data_dir>/generic/NAME/1.0.0/`), so the existing `name/config` addressing works:
mixture key `generic/NAME`, export calibration `generic/NAME/<split>`, probe config
`configs/probe/generic.py:NAME`. The options of a corpus (`GenericConfig`) are its builder
config; they travel to the preparation workers with each job and are written, with every
file's fate, to prep_report.json (`config`).

Choices (also in docs/data.md):
- Subjects: `--subject-regex` searched in the path relative to the folder (group 1, else the
  whole match); default the first folder level, files directly in the folder forming one
  subject. A file it does not match is skipped and reported.
- Splits: unlabelled corpora get train / validation, labelled ones train / validation / test.
  Held out, in this order of preference: whole subjects (round(10 %) per held-out split, at
  least one, ranked by SHA-256 as `protocols.held_out_subjects`), when there are more subjects
  than held-out splits; else whole recordings (files), ranked the same way; else, with too few
  files, the end of each recording in time (validation the last 10 % but at least one window,
  test as much before it, windows straddling a boundary dropped and counted).
- Labels (optional): `--label-regex` on the relative path (one class per file, group 1 else the
  match), or `--label-column` (a CSV column, an NPZ key or a MAT variable of per-sample integer
  labels; a window's label is its majority label). Classes are the distinct values found,
  sorted (numerically when all are integers), indexed from 0; their names are the values.
- Channels: `--channels` picks and orders channels (`0-15`, `0,2,4`); without it a file with
  more than 16 channels is refused (skipped with that reason), never silently truncated.
  One channel count per corpus (`with_channel_count`): without `--channels` the count most
  files have; files with another are skipped with the reason, a tie is refused, and
  `--allow-mixed-channels` accepts a mix explicitly.
- Files the first pass finds unusable are skipped before the hold-out draw (`unusable`), so a
  broken file never takes a held-out split's only place.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm.auto import tqdm

from tinymyo_jax.data import protocols, signal
from tinymyo_jax.data.corpora import Corpus, Downstream
from tinymyo_jax.data.protocols import CorpusProtocol, WindowConfig, Windows
from tinymyo_jax.data.readers import checks
from tinymyo_jax.data.readers import generic as reader
from tinymyo_jax.data.readers.base import RawFileError, relative_file
from tinymyo_jax.data.recording import Recording, hashed_id
from tinymyo_jax.errors import UserError

DATASET = reader.DATASET  # "generic": the TFDS dataset of every users' corpus
# \Z, not $: `$` also matches before a final newline, which let `--name $'abc\n'` through. 64
# characters at most: the name becomes a folder name inside data_dir, and a 300-character name
# failed deep inside the builder with a traceback
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
WINDOW, STRIDE = 1000, 500  # the pretraining protocol's, at 2 kHz
# `--rate` below 1 kHz: the band-pass stops at 90 % of the new Nyquist rate (90 Hz at 200 Hz)
BAND_TOP_OF_NYQUIST = 0.9
HELD_OUT_FRACTION = protocols.HELD_OUT_FRACTION


@dataclasses.dataclass(frozen=True)
class GenericConfig(WindowConfig):
    """A `generic/NAME` corpus: the window config plus how to read and split its files.

    fs: rate (Hz) for files that carry none (NPY, CSV without a time column, NPZ/MAT without fs);
      must agree (1 %) with the rate of files that do.
    channels: channel indices to keep, in this order; None keeps all (at most 16).
    subject_regex: subject from the relative path (None: the first folder level).
    label_column / label_regex: where labels come from (at most one; neither: unlabelled).
    variable: NPZ key / MAT variable holding emg [T, C].
    time_column, time_unit: CSV time column and its unit ("s" or "ms").
    classes: labelled corpora: the raw label values, in class-index order.
    mixed_channels: accept files with different channel counts in one corpus (each file's
      channels first, padded to the most; --allow-mixed-channels). False: one count per corpus.
    channel_count: the channels every file must have (None: any); set by `with_channel_count`
      from the files when neither `channels` nor `mixed_channels` is given.
    unusable: (relative path, reason) of the files the first pass (`with_channel_count`) cannot
      use: skipped before the hold-out draw, so a broken file never takes a held-out split's place.
    """

    fs: float | None = None
    channels: tuple[int, ...] | None = None
    subject_regex: str | None = None
    label_column: str | None = None
    label_regex: str | None = None
    variable: str = "emg"
    time_column: str = "time"
    time_unit: str = "s"
    classes: tuple[str, ...] = ()
    mixed_channels: bool = False
    channel_count: int | None = None
    unusable: tuple[tuple[str, str], ...] = ()

    @property
    def labelled(self) -> bool:
        return self.label_column is not None or self.label_regex is not None

    @property
    def held_out_splits(self) -> tuple[str, ...]:
        return ("validation", "test") if self.labelled else ("validation",)


def make_config(
    name: str,
    *,
    fs: float | None = None,
    channels: str | Sequence[int] | None = None,
    subject_regex: str | None = None,
    label_column: str | None = None,
    label_regex: str | None = None,
    variable: str = "emg",
    time_column: str = "time",
    time_unit: str = "s",
    mixed_channels: bool = False,
    rate: float | None = None,
    window: int | None = None,
    stride: int | None = None,
) -> GenericConfig:
    """A checked GenericConfig (classes still empty: `with_classes` fills them); UserError for a
    bad option. rate: the windows' rate (Hz; None: the protocol's 2 kHz); window / stride in
    samples at that rate (None: the protocol's 0.5 s / 0.25 s at that rate)."""
    if not NAME_PATTERN.match(name or ""):
        raise UserError(f"--name {name[:80]!r}: use 1 to 64 letters, digits, '_' and '-' (it becomes the dataset generic/NAME)")
    if fs is not None and not 0 < fs < float("inf"):
        raise UserError(f"--fs must be > 0 Hz, got {fs:g}")
    if fs is not None and not checks.MIN_EMG_FS <= fs <= checks.MAX_EMG_FS:
        raise UserError(f"--fs {fs:g}: surface EMG is recorded at {checks.MIN_EMG_FS:g} Hz to {checks.MAX_EMG_FS:g} Hz; "
                        "give the rate in Hz (e.g. --fs 1000 for 1 kHz)")  # fmt: skip
    if label_column is not None and label_regex is not None:
        raise UserError("give --label-column or --label-regex, not both")
    for option, pattern in (("--subject-regex", subject_regex), ("--label-regex", label_regex)):
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as err:
                raise UserError(f"{option} {pattern!r} is not a regular expression: {err}") from err
    if time_unit not in ("s", "ms"):
        raise UserError(f"--time-unit must be s or ms, got {time_unit!r}")
    picked = parse_channels(channels) if isinstance(channels, str) else (tuple(channels) if channels is not None else None)
    if rate is not None and not checks.MIN_EMG_FS <= rate <= checks.MAX_EMG_FS:
        raise UserError(f"--rate {rate:g}: windows of surface EMG at {checks.MIN_EMG_FS:g} Hz to {checks.MAX_EMG_FS:g} Hz")
    windows_hz = GENERIC.fs if rate is None else rate
    window = round(WINDOW * windows_hz / GENERIC.fs) if window is None else window  # the protocol's 0.5 s
    stride = max(1, window // 2) if stride is None else stride
    if window < 2 or stride < 1:
        raise UserError(f"--window {window} / --stride {stride}: a window needs at least 2 samples and a stride 1")
    return GenericConfig(
        name=name, window=window, stride=stride, fs=fs, channels=picked, subject_regex=subject_regex,
        label_column=label_column, label_regex=label_regex, variable=variable, time_column=time_column,
        time_unit=time_unit, mixed_channels=mixed_channels,
        rate_hz=None if rate is None or rate == GENERIC.fs else float(rate),
    )  # fmt: skip


def parse_channels(spec: str) -> tuple[int, ...]:
    """`"0-15"`, `"0,2,4"`, `"0-3,8-11"` -> channel indices in that order (0-based, no repeats,
    at most 16); UserError otherwise."""
    picked: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise UserError(f"--channels {spec!r}: expected indices and ranges such as 0-15 or 0,2,4 (0-based)")
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        if last < first:
            raise UserError(f"--channels {spec!r}: range {part} runs backwards")
        picked.extend(range(first, last + 1))
    if len(set(picked)) != len(picked):
        raise UserError(f"--channels {spec!r} names a channel twice")
    if len(picked) > signal.MAX_CHANNELS:
        raise UserError(f"--channels {spec!r} picks {len(picked)} channels; the window records hold at most {signal.MAX_CHANNELS}")
    return tuple(picked)


# ---------------------------------------------------------------------------------------------
# Subjects and labels from paths


def _group(pattern: str, text: str) -> str | None:
    match = re.search(pattern, text)
    if match is None:
        return None
    return match.group(1) if match.re.groups else match.group(0)


def subject_name(config: GenericConfig, relative: str) -> str | None:
    """The subject of a file (path relative to the folder), or None when the regex misses."""
    if config.subject_regex is None:
        return relative.split("/", 1)[0] if "/" in relative else ""
    return _group(config.subject_regex, relative)


def subject_id(name: str) -> int:
    """The record's int32 subject id: the number itself for an all-digit name, else a stable hash."""
    if name.isdigit() and int(name) < 2**31:
        return int(name)
    return hashed_id(name) if name else 0


def label_name(config: GenericConfig, relative: str) -> str | None:
    """`--label-regex`'s value for a file, or None when it does not match."""
    assert config.label_regex is not None
    return _group(config.label_regex, relative)


def class_names(classes: Sequence[str]) -> tuple[str, ...]:
    """TFDS ClassLabel names of the raw values (whitespace -> '_': the names file is one per line
    and is read back split on whitespace)."""
    return tuple(re.sub(r"\s+", "_", value) or "_" for value in classes)


def _sorted_values(values: set[str]) -> tuple[str, ...]:
    if all(re.fullmatch(r"-?\d+", v) for v in values):
        return tuple(sorted(values, key=int))
    return tuple(sorted(values))


def with_classes(config: GenericConfig, files: Sequence[Path], root: Path, progress: bool = True) -> GenericConfig:
    """`config` with `classes` filled from the files (labelled corpora; unchanged otherwise).

    `--label-regex`: from the file names. `--label-column`: the labels of every readable file
    (a first pass over the files; a file that cannot be read is skipped later, with its reason).
    """
    if not config.labelled:
        return config
    values: set[str] = set()
    if config.label_regex is not None:
        values = {v for f in files if (v := label_name(config, relative_file(f, root))) is not None}
        if not values:
            raise UserError(f"--label-regex {config.label_regex!r} matches none of the {len(files)} file paths under {root}")
    else:
        unreadable = []
        for path in tqdm(files, desc=f"generic/{config.name}: reading labels", disable=not progress):
            try:
                labels = _read(config, path, root).labels
            except UserError as err:
                unreadable.append(f"{relative_file(path, root)}: {getattr(err, 'reason', err)}")
                continue
            values.update(str(int(v)) for v in np.unique(labels))
        if not values:
            shown = "; ".join(unreadable[:3])
            raise UserError(f"no file under {root} has labels {config.label_column!r} that can be read ({shown})")
    return dataclasses.replace(config, classes=_sorted_values(values))


def with_channel_count(config: GenericConfig, files: Sequence[Path], root: Path, progress: bool = True) -> GenericConfig:
    """`config` with `channel_count` set to the channel count most files have (unchanged with
    `--channels`, which fixes the count itself), and `unusable` listing the files found unreadable.
    A file with another count is skipped later with its reason; counts tied for most files leave
    no choice to make, so they are a UserError. The counts come from `reader.channel_count` (a
    CSV's header, an .npy's header; other formats are read whole).
    """
    counts: dict[int, list[str]] = {}
    unusable: list[tuple[str, str]] = []
    for path in tqdm(files, desc=f"generic/{config.name}: channel counts", disable=not progress):
        try:
            count = reader.channel_count(path, fs=config.fs, time_column=config.time_column, time_unit=config.time_unit,
                                         label_column=config.label_column, variable=config.variable)  # fmt: skip
        except UserError as err:
            unusable.append((relative_file(path, root), getattr(err, "reason", str(err))))
            continue
        counts.setdefault(count, []).append(relative_file(path, root))
    config = dataclasses.replace(config, unusable=tuple(unusable))
    if config.channels is not None or config.mixed_channels or not counts:
        return config
    ranked = sorted(counts.items(), key=lambda item: -len(item[1]))
    if len(ranked) > 1 and len(ranked[0][1]) == len(ranked[1][1]):
        listing = "; ".join(f"{count} channels: {len(names)} file(s), e.g. {names[0]}" for count, names in ranked)
        raise UserError(
            f"the files under {root} differ in channel count with no majority ({listing}); windows of different "
            f"electrode layouts do not mix: prepare each layout as its own corpus (its own folder and --name), pick "
            f"the same channels from every file with --channels (e.g. --channels 0-{min(counts) - 1}), or accept the "
            f"mix with --allow-mixed-channels"
        )
    count = ranked[0][0]
    others = [(name, _other_count_reason(found, count)) for found, names in ranked[1:] for name in names]
    return dataclasses.replace(config, channel_count=count, unusable=config.unusable + tuple(others))


def _other_count_reason(found: int, count: int) -> str:
    return (f"{found} channels, but the corpus's files have {count} (most of them): windows of different electrode "
            f"layouts do not mix; prepare it as its own corpus (another folder and --name), pick the same channels "
            f"from every file with --channels, or accept the mix with --allow-mixed-channels")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Reading one file


def _read(config: GenericConfig, path: Path, root: Path) -> Recording:
    """The file as a Recording: channels picked, labels as class indices (or raw values before
    `classes` is known), subject from the path."""
    relative = relative_file(path, root)
    subject = subject_name(config, relative)
    if subject is None:
        raise RawFileError(path, f"--subject-regex {config.subject_regex!r} does not match its path {relative!r}")
    recording = reader.read_generic(
        path, fs=config.fs, time_column=config.time_column, time_unit=config.time_unit,
        label_column=config.label_column, subject=subject_id(subject), root=root, variable=config.variable,
    )  # fmt: skip
    extra = dict(recording.meta.extra)
    emg = recording.emg
    count = emg.shape[1]
    if config.channels is not None:
        beyond = [c for c in config.channels if c >= count]
        if beyond:
            raise RawFileError(path, f"--channels asks for channel {beyond[0]} but the file has {count} (0-{count - 1})")
        emg = np.ascontiguousarray(emg[:, list(config.channels)])
        if "channel_names" in extra:
            extra["channel_names"] = [extra["channel_names"][c] for c in config.channels]
    elif count > signal.MAX_CHANNELS:
        raise RawFileError(
            path,
            f"{count} channels, more than the {signal.MAX_CHANNELS} a window record holds: pick them with "
            f"--channels (e.g. --channels 0-{signal.MAX_CHANNELS - 1})",
        )
    if config.channels is None and config.channel_count is not None and count != config.channel_count:
        raise RawFileError(path, _other_count_reason(count, config.channel_count))
    extra["dead_channels"] = checks.dead_channels(emg)
    labels = None
    if config.label_regex is not None:
        value = label_name(config, relative)
        if value is None:
            raise RawFileError(path, f"--label-regex {config.label_regex!r} does not match its path {relative!r}")
        labels = np.full(emg.shape[0], _class_index(config, path, value), dtype=np.int32)
    elif config.label_column is not None:
        if recording.labels is None:
            raise RawFileError(path, f"no labels {config.label_column!r} in the file")
        labels = recording.labels
        if config.classes:
            raw, inverse = np.unique(labels, return_inverse=True)
            index = np.array([_class_index(config, path, str(int(v))) for v in raw], dtype=np.int32)
            labels = index[inverse.reshape(-1)]
    meta = dataclasses.replace(recording.meta, extra=extra)
    return dataclasses.replace(recording, emg=emg, labels=labels, meta=meta)


def _class_index(config: GenericConfig, path: Path, value: str) -> int:
    if value not in config.classes:
        raise RawFileError(path, f"label {value!r} is not among the classes found when preparation began ({', '.join(config.classes)})")
    return config.classes.index(value)


def read_file(config: GenericConfig, path: Path, root: Path) -> list[Recording]:
    """Protocol hook: one file -> [its Recording]."""
    return [_read(config, Path(path), Path(root))]


# ---------------------------------------------------------------------------------------------
# Splits


def assign_files(
    config: GenericConfig, files: Sequence[Path], root: Path
) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """Protocol hook: split per file (None: split by time inside it) and skipped files, from
    paths alone (see the module docstring for the rule)."""
    skipped: dict[Path, str] = {}
    subjects: dict[Path, str] = {}
    unusable = dict(config.unusable)
    for file in map(Path, files):
        relative = relative_file(file, root)
        subject = subject_name(config, relative)
        if relative in unusable:
            skipped[file] = unusable[relative]
        elif subject is None:
            skipped[file] = f"--subject-regex {config.subject_regex!r} does not match its path"
        elif config.label_regex is not None and label_name(config, relative) is None:
            skipped[file] = f"--label-regex {config.label_regex!r} does not match its path"
        else:
            subjects[file] = subject
    held = config.held_out_splits
    unique = sorted(set(subjects.values()))
    if len(unique) > len(held):
        chosen = hold_out(config.name, unique, held)
        return {f: chosen.get(s, "train") for f, s in subjects.items()}, skipped
    if len(subjects) > len(held):
        chosen = hold_out(config.name, [relative_file(f, root) for f in subjects], held)
        return {f: chosen.get(relative_file(f, root), "train") for f in subjects}, skipped
    return {f: None for f in subjects}, skipped


def hold_out(dataset: str, keys: Sequence[str], splits: Sequence[str]) -> dict[str, str]:
    """key -> held-out split for round(10 %) of the keys per split (at least one each, never all),
    the keys first in `protocols.hash_order`. len(keys) must exceed len(splits)."""
    count = max(1, round(HELD_OUT_FRACTION * len(keys)))
    count = min(count, (len(keys) - 1) // len(splits))
    ranked = protocols.hash_order(f"{DATASET}/{dataset}", keys)
    return {key: split for i, split in enumerate(splits) for key in ranked[i * count : (i + 1) * count]}


# ---------------------------------------------------------------------------------------------
# Windows


def _cut(protocol: CorpusProtocol, recording: Recording, config: WindowConfig, split: str | None) -> Windows:
    """Every window that fits, at 2 kHz; label = majority label of the window (labelled corpora);
    split = the file's, or by time (`split` None: too few files to hold any out)."""
    assert isinstance(config, GenericConfig)
    emg, recording = protocol.preprocess(recording)
    starts = signal.window_starts(emg.shape[0], config.window, config.stride)
    dropped: dict[str, int] = {}
    if split is not None:
        splits = np.full(starts.size, split, dtype=object)
    else:
        splits, straddling = time_splits(starts, config.window, emg.shape[0], config.held_out_splits)
        keep = splits != None  # noqa: E711  (elementwise over an object array)
        starts, splits = starts[keep], splits[keep]
        if straddling:
            dropped["straddles_time_split"] = straddling
    labels = None
    if config.labelled:
        assert recording.labels is not None
        labels = signal.labels_at(recording.labels, starts, config.window, "majority").astype(np.int64)
    return Windows(emg, starts, config.window, splits=splits, labels=labels, dropped=dropped)


def time_splits(starts: np.ndarray, window: int, num_samples: int, held: Sequence[str]) -> tuple[np.ndarray, int]:
    """(split per window or None, windows straddling a boundary) for a recording split in time:
    the last 10 % (at least one window) is the first held-out split, as much before it the next,
    the rest train."""
    names = ["train", *reversed(held)]  # in time order: train, [test,] validation
    share = max(round(HELD_OUT_FRACTION * num_samples), window)
    bounds = [0, *[num_samples - share * k for k in range(len(held), 0, -1)], num_samples]
    out = np.full(starts.size, None, dtype=object)
    for name, begin, end in zip(names, bounds[:-1], bounds[1:]):
        out[(starts >= begin) & (starts + window <= end)] = name
    return out, int(np.sum(out == None))  # noqa: E711


# ---------------------------------------------------------------------------------------------
# The protocol


def bind(base: CorpusProtocol, config: WindowConfig) -> CorpusProtocol:
    """The protocol of one corpus: the base with its reading, splitting, channels and label space."""
    assert isinstance(config, GenericConfig)
    extra: dict[str, Any] = {}
    if config.rate_hz is not None:
        # the band shrinks below the new Nyquist as the 200-Hz corpora's 20-90 Hz (DB5, EPN-612, UCI)
        extra.update(fs=config.rate_hz, band=(base.band[0], min(base.band[1], BAND_TOP_OF_NYQUIST * config.rate_hz / 2)))
    if config.labelled:
        extra.update(task="classification", splits=protocols.SPLITS, class_names=class_names(config.classes))
    return dataclasses.replace(
        base, read=functools.partial(read_file, config), assign=functools.partial(assign_files, config),
        channels=len(config.channels) if config.channels is not None else None, **extra,
    )  # fmt: skip


def _unbound(files: Sequence[Path], root: Path) -> tuple[dict[Path, str | None], dict[Path, str]]:
    raise UserError(f"a {DATASET} corpus is prepared with `tinymyo prep {DATASET} --manual_dir DIR --name NAME`")


GENERIC = CorpusProtocol(
    name=DATASET, task="pretraining", fs=2000.0, band=(20.0, 450.0), channels=None,
    configs=(), splits=protocols.PRETRAIN_SPLITS, cut=_cut, assign=_unbound, bind=bind,
)  # fmt: skip

DECISIONS = """\
- Users' own recordings (`tinymyo prep generic`, tinymyo_jax/data/corpora/generic.py): the
  pretraining protocol of the corpora (resampled to 2 kHz by polyphase filtering, band-pass
  20-450 Hz, window 1000 / stride 500, windows that fit). Channels chosen with --channels; more
  than 16 without it is refused.
- Another rate (`--rate HZ`, with `--window N --stride N` in samples at that rate; default 0.5 s
  and half of it): every file resampled to it, the band-pass's top at min(450 Hz, 90 % of its
  Nyquist rate): 20-90 Hz at 200 Hz, as the 200-Hz corpora (DB5, EPN-612, UCI). The windows'
  rate is written to metadata.json, where pretraining and the probe's rate check read it.
- Held out: whole subjects (10 %, at least one, per held-out split) when there are more subjects
  than held-out splits, else whole recordings, else the end of each recording in time
  (validation the last 10 % or one window, test as much before; straddling windows dropped). Unlabelled:
  train / validation; labelled: train / validation / test.
- Labels (optional): a file-name regex (one class per file) or per-sample labels (a CSV column,
  NPZ key or MAT variable; a window's label is its majority label); classes are the distinct
  values, sorted, indexed from 0.
"""

INSTRUCTIONS = """\
Your own recordings: a folder of CSV/TSV/TXT (header row), .npy, .npz, .mat, .edf/.bdf or WFDB
(.hea + .dat) files, one continuous recording each, one sub-folder per subject by default.
Prepare it with `tinymyo prep generic --manual_dir DIR --name NAME` (see docs/data.md, "Your
own recordings").
"""

CORPUS = Corpus(
    protocol=GENERIC, dataset_id=7, reader="tinymyo_jax.data.readers.generic", decisions=DECISIONS,
    homepage="", instructions=INSTRUCTIONS,
    # a labelled corpus is a gesture benchmark (configs/probe/generic.py:NAME); its config is NAME
    benchmark=Downstream("", "accuracy"),
    # --manual_dir is the user's folder itself, and its configs are made from the user's options
    nested_root=False, user_configs=True,
)  # fmt: skip

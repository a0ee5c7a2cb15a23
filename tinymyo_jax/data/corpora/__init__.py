"""The corpus registry: the one place that knows which corpora exist.

Each module of this package (`ninapro_db5.py`, ..., `generic.py`) is one corpus and declares
everything about it once, as `CORPUS = Corpus(...)`: its preparation protocol (channels, rate,
windows, split rule, label set: `protocols.CorpusProtocol`), the reader module that parses its
raw files, the synthetic-corpus writer, the decisions and download text shown by its TFDS
builder, and the downstream benchmark it offers. Preparation (`prepare`, `builder`, `tinymyo
prep`), `tinymyo synth`, the builder descriptions (`downloads`) and the evaluation configs
(`evaluate/config.py`) all look corpora up here; none keeps its own list of names.

Adding a corpus is adding a module here (and its thin TFDS builder folder `data_prep/<name>/`):
the registry finds the modules of this package by listing it (`pkgutil`), so nothing else is
edited. Modules whose name starts with "_" are helpers shared by several corpora, not corpora.

Corpus modules stay light to import (`tinymyo --help` lists the corpora): reader and writer
modules, which pull in h5py / scipy.io, are named by import path and imported only when used.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any

from tinymyo_jax.data.decisions import COMMON
from tinymyo_jax.data.protocols import CorpusProtocol, WindowConfig
from tinymyo_jax.errors import UserError

# Far above 16-bit ADC counts or microvolts: the bound of corpora whose unit is unknown.
DEFAULT_EMG_BOUND = 1e6


@dataclasses.dataclass(frozen=True)
class Downstream:
    """What a downstream benchmark of a corpus evaluates (evaluate/config.py builds its configs).

    builder_config: the prepared builder config evaluated ("" for corpora whose configs users
      name, `generic/NAME`).
    selection_metric: validation metric the probe's L2 (and LDA shrinkage) maximise.
    segments: regression: predictions per window (temporal pooling into equal parts).
    """

    builder_config: str
    selection_metric: str
    segments: int = 1


@dataclasses.dataclass(frozen=True)
class Corpus:
    """One corpus, as its module in this package declares it.

    protocol: how its raw recordings become windows and splits (the task, label set and real
      channel count are the protocol's).
    dataset_id: the window records' `dataset` value (a TFDS ClassLabel over every registered
      corpus, ordered by id). Fixed once data is prepared: a new corpus takes the next free id.
    reader: import path of the module parsing its raw files (`readers/base.py` says what it has).
    decisions: Markdown bullets: every choice where the sources disagree or are silent.
    homepage, instructions: where the raw files come from and how to lay them out for
      `--manual_dir` (the builder's MANUAL_DOWNLOAD_INSTRUCTIONS).
    synth: import path of the module writing synthetic raw files in its published layout
      (`data/synth`), or None when `tinymyo synth` cannot make it.
    benchmark: the downstream benchmark it offers, or None (pretraining corpora).
    emg_bound: largest |sample| an EMG channel can physically hold in its files' unit; beyond it
      a value is a glitch, not signal (readers/checks.channel_findings).
    nested_root: `--manual_dir` may hold several corpora as `<name>/` folders (as `tinymyo synth
      all --out` writes them); False: `--manual_dir` is always the corpus root (users' folders).
    user_configs: its builder configs are not predefined but made from a user's options and
      addressed `<name>/<CONFIG>` (the protocol's `bind` turns one into that corpus's protocol).
    """

    protocol: CorpusProtocol
    dataset_id: int
    reader: str
    decisions: str
    homepage: str
    instructions: str
    synth: str | None = None
    benchmark: Downstream | None = None
    emg_bound: float = DEFAULT_EMG_BOUND
    nested_root: bool = True
    user_configs: bool = False

    @property
    def name(self) -> str:
        return self.protocol.name

    @property
    def all_decisions(self) -> str:
        """This corpus's protocol decisions, then the ones common to all, as Markdown bullets."""
        return self.decisions + COMMON

    def reader_module(self) -> Any:
        return importlib.import_module(self.reader)


_REGISTRY: dict[str, Corpus] | None = None


def registry() -> dict[str, Corpus]:
    """name -> Corpus for every corpus module of this package, ordered by dataset_id."""
    global _REGISTRY
    if _REGISTRY is None:
        found: list[Corpus] = []
        for module in pkgutil.iter_modules(__path__):
            if module.name.startswith("_"):
                continue
            corpus = getattr(importlib.import_module(f"{__name__}.{module.name}"), "CORPUS", None)
            if not isinstance(corpus, Corpus):
                raise TypeError(f"{__name__}.{module.name} declares no CORPUS = Corpus(...)")
            if corpus.name != module.name:
                raise ValueError(f"{__name__}.{module.name} declares corpus {corpus.name!r}; the module is named after its corpus")
            found.append(corpus)
        found.sort(key=lambda c: c.dataset_id)
        ids = [c.dataset_id for c in found]
        if ids != list(range(len(found))):
            raise ValueError(f"corpus dataset ids must be 0..{len(found) - 1}, each once: {dict((c.name, c.dataset_id) for c in found)}")
        _REGISTRY = {c.name: c for c in found}
    return _REGISTRY


def reset() -> None:
    """Forget the registry, so the next lookup lists the package again (tests add modules)."""
    global _REGISTRY
    _REGISTRY = None


def get(name: str) -> Corpus:
    """The corpus of a TFDS name; UserError naming the known ones for anything else."""
    corpora = registry()
    if name not in corpora:
        raise UserError(f"no corpus named {name!r}; choose from {', '.join(corpora)}")
    return corpora[name]


def names() -> tuple[str, ...]:
    """Every corpus name, in dataset_id order (the window records' `dataset` ClassLabel names)."""
    return tuple(registry())


def named() -> tuple[str, ...]:
    """The corpora with predefined builder configs (what `tinymyo prep all` prepares)."""
    return tuple(name for name, corpus in registry().items() if not corpus.user_configs)


def protocol(name: str) -> CorpusProtocol:
    """The protocol of a corpus by TFDS name; UserError for an unknown name. A corpus with
    `user_configs` gives its base protocol, to `bind` to a user's config."""
    return get(name).protocol


def resolve(name: str, config: str | WindowConfig | None) -> tuple[CorpusProtocol, WindowConfig]:
    """(protocol, window config) of a preparation: `config` is a config name of the corpus (None:
    its default), or a WindowConfig object, which is how a `generic/NAME` corpus's options reach
    worker processes (the protocol is then bound to it)."""
    base = protocol(name)
    if isinstance(config, WindowConfig):
        return (base.bind(base, config) if base.bind else base), config
    return base, base.config(config)

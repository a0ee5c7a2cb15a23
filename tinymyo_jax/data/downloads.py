"""The TFDS builders' description of a corpus. Where each corpus comes from and how to lay it
out for `--manual_dir` is declared by its module (`corpora/<name>.py`: homepage, instructions).

Nothing is downloaded by the builders: the corpora need registration or licence acceptance, or
are hundreds of GB. `--manual_dir RAW` is the corpus root, or a folder holding `<name>/` roots
(as `tinymyo synth all --out RAW` writes them).
"""

from __future__ import annotations

from tinymyo_jax.data import corpora
from tinymyo_jax.data.protocols import CorpusProtocol

_TASKS = {
    "pretraining": "masked-reconstruction pretraining (no labels)",
    "classification": "gesture classification",
    "regression": "regression of 5 degrees of actuation",
}


def describe(protocol: CorpusProtocol) -> str:
    """The builder description: what the dataset is, its record, and every protocol decision."""
    rate = f"{protocol.fs:g} Hz" if protocol.fs else "the file's own rate"
    classes = f", {len(protocol.class_names)} classes" if protocol.class_names else ""
    return (
        f"{protocol.name}: window records for {_TASKS[protocol.task]}{classes}, prepared with "
        f"TinyMyo's protocol (tinymyo_jax.data.protocols) from the raw files in --manual_dir. "
        f"{_channels(protocol.channels)} "
        f"(channel_mask), {rate}, {_filters(protocol)}, z-score per recording. "
        f"Splits: {', '.join(protocol.splits)}. prep_report.json beside the shards lists every raw "
        f"file, its windows and any file skipped with the reason.\n\nDecisions:\n{corpora.get(protocol.name).all_decisions}"
    )


def _filters(protocol: CorpusProtocol) -> str:
    band = f"band-pass {protocol.band[0]:g}-{protocol.band[1]:g} Hz" if protocol.band else "no band-pass"
    return f"{band} + {protocol.notch_hz:g} Hz notch" if protocol.notch_hz else f"{band}, no notch"


def _channels(channels: int | None) -> str:
    if channels is None:
        return "the files' real channels (at most 16; the count is in the dataset's metadata.json) zero-padded to 16"
    return f"{channels} real channels{' zero-padded to 16' if channels < 16 else ''}"

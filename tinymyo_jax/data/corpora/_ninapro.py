"""What the four NinaPro corpora share: their reader, their writer and the subject in a file name."""

from __future__ import annotations

import re
from pathlib import Path

READER = "tinymyo_jax.data.readers.ninapro"
SYNTH = "tinymyo_jax.data.synth.ninapro"
HOMEPAGE = "https://ninapro.hevs.ch/instructions/{db}.html"

_SUBJECT = re.compile(r"^S(\d+)_", re.I)
UNKNOWN_SUBJECT = "the subject number cannot be read from the file name"


def subject(path: Path) -> int | None:
    """The subject of a NinaPro file from its name (`S<N>_...`), or None."""
    match = _SUBJECT.match(Path(path).name)
    return int(match.group(1)) if match else None

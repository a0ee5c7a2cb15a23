"""NinaPro DB6 (Delsys, 14 live of 16 ch, 2 kHz): pretraining, whole subjects held out."""

from __future__ import annotations

from tinymyo_jax.data.corpora import _ninapro
from tinymyo_jax.data.decisions import PRETRAINING

NAME = "ninapro_db6"

DECISIONS = """\
- 14 electrodes: the reader removes the always-zero columns 8 and 9; rows 14-15 are padding.
""" + PRETRAINING

INSTRUCTIONS = """\
Download DB6_s<N>_a.zip and DB6_s<N>_b.zip for N = 1..10 from the NinaPro DB6 page
(https://ninapro.hevs.ch, files under DB6_Preproc/) and unzip them all into the manual dir,
giving DB6_s<N>_a/S<N>_D<d>_T<t>.mat and DB6_s<N>_b/... (macOS clutter is ignored).
"""

# whole subjects held out (`held_out_subjects`)
CORPUS = _ninapro.pretraining_corpus(NAME, channels=14, dataset_id=1, decisions=DECISIONS, instructions=INSTRUCTIONS)

"""NinaPro DB7 (Delsys, 12 ch, 2 kHz; 2 amputees): pretraining, whole subjects held out."""

from __future__ import annotations

from tinymyo_jax.data.corpora import _ninapro
from tinymyo_jax.data.decisions import PRETRAINING

NAME = "ninapro_db7"

DECISIONS = """\
- 12 channels; rows 12-15 are padding.
- Window 1000 / stride 500 (§12.10): the documented values and the pretrained model's input,
  not the script's 256 / 128 defaults.
""" + PRETRAINING

INSTRUCTIONS = """\
Download Subject_<N>.zip for N = 1..22 from the NinaPro DB7 page (https://ninapro.hevs.ch,
files under DB7_Preproc/) and unzip each into Subject_<N>/ in the manual dir, giving
Subject_<N>/S<N>_E<1-2>_A1.mat.
"""

# whole subjects held out (`held_out_subjects`)
CORPUS = _ninapro.pretraining_corpus(NAME, channels=12, dataset_id=2, decisions=DECISIONS, instructions=INSTRUCTIONS)

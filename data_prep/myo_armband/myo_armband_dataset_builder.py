"""Côté-Allard et al. Myo Armband Dataset (Myo, 8 ch, 200 Hz): pretraining participants and
the transfer benchmark's evaluation participants.

Thin TFDS builder: everything about the corpus is in its module tinymyo_jax/data/corpora/<name>.py
(the registry entry); this file only names the corpus.

    tfds build data_prep/myo_armband --manual_dir ../shared/real/myo_armband --data_dir OUT --file_format array_record
"""

from tinymyo_jax.data.builder import EmgBuilder


class Builder(EmgBuilder):
    """Côté-Allard et al. Myo Armband Dataset (Myo, 8 ch, 200 Hz): 7 gestures, 40 participants."""

    PROTOCOL = "myo_armband"

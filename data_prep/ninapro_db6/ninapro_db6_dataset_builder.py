"""NinaPro DB6 (Delsys, 14 ch, 2 kHz): pretraining windows.

Thin TFDS builder: everything about the corpus is in its module tinymyo_jax/data/corpora/<name>.py
(the registry entry); this file only names the corpus.

    tfds build data_prep/ninapro_db6 --manual_dir RAW --data_dir OUT --file_format array_record
"""

from tinymyo_jax.data.builder import EmgBuilder


class Builder(EmgBuilder):
    """NinaPro DB6 (Delsys, 14 ch, 2 kHz): pretraining windows."""

    PROTOCOL = "ninapro_db6"

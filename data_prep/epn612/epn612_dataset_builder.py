"""EMG-EPN612 (Myo, 8 ch, 200 Hz): 6-gesture classification.

Thin TFDS builder: everything about the corpus is in its module tinymyo_jax/data/corpora/<name>.py
(the registry entry); this file only names the corpus.

    tfds build data_prep/epn612 --manual_dir RAW --data_dir OUT --file_format array_record
"""

from tinymyo_jax.data.builder import EmgBuilder


class Builder(EmgBuilder):
    """EMG-EPN612 (Myo, 8 ch, 200 Hz): 6-gesture classification."""

    PROTOCOL = "epn612"

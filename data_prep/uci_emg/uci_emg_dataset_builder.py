"""UCI EMG data for gestures (Myo, 8 ch): 6-gesture classification.

Thin TFDS builder: everything about the corpus is in its module tinymyo_jax/data/corpora/<name>.py
(the registry entry); this file only names the corpus.

    tfds build data_prep/uci_emg --manual_dir RAW --data_dir OUT --file_format array_record
"""

from tinymyo_jax.data.builder import EmgBuilder


class Builder(EmgBuilder):
    """UCI EMG data for gestures (Myo, 8 ch): 6-gesture classification."""

    PROTOCOL = "uci_emg"

"""NinaPro DB8 (Delsys, 16 ch, 2 kHz): 5-DoA finger kinematics regression.

Thin TFDS builder: everything about the corpus is in its module tinymyo_jax/data/corpora/<name>.py
(the registry entry); this file only names the corpus.

    tfds build data_prep/ninapro_db8 --manual_dir RAW --data_dir OUT --file_format array_record
"""

from tinymyo_jax.data.builder import EmgBuilder


class Builder(EmgBuilder):
    """NinaPro DB8 (Delsys, 16 ch, 2 kHz): 5-DoA finger kinematics regression."""

    PROTOCOL = "ninapro_db8"

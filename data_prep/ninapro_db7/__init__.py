"""TFDS builder folder for ninapro_db7 (see ninapro_db7_dataset_builder.py)."""

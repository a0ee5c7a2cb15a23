"""TFDS builder folder for ninapro_db5 (see ninapro_db5_dataset_builder.py)."""

"""TFDS builder folder for ninapro_db8 (see ninapro_db8_dataset_builder.py)."""

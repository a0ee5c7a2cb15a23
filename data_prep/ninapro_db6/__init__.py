"""TFDS builder folder for ninapro_db6 (see ninapro_db6_dataset_builder.py)."""

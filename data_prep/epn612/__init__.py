"""TFDS builder folder for epn612 (see epn612_dataset_builder.py)."""

"""TFDS builder folder for myo_armband (see myo_armband_dataset_builder.py)."""

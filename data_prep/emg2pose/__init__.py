"""TFDS builder folder for emg2pose (see emg2pose_dataset_builder.py)."""

"""TFDS builder folder for uci_emg (see uci_emg_dataset_builder.py)."""

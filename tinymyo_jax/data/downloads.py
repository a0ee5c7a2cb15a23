"""Where each corpus comes from and how to lay it out for `--manual_dir` (the builders' texts).

Nothing is downloaded by the builders: the corpora need registration or licence acceptance, or
are hundreds of GB. `--manual_dir RAW` is the corpus root, or a folder holding `<name>/` roots
(as `tinymyo synth all --out RAW` writes them).
"""

from __future__ import annotations

from tinymyo_jax.data.protocols import Protocol

HOMEPAGES: dict[str, str] = {
    "ninapro_db5": "https://ninapro.hevs.ch/instructions/DB5.html",
    "ninapro_db6": "https://ninapro.hevs.ch/instructions/DB6.html",
    "ninapro_db7": "https://ninapro.hevs.ch/instructions/DB7.html",
    "ninapro_db8": "https://ninapro.hevs.ch/instructions/DB8.html",
    "emg2pose": "https://github.com/facebookresearch/emg2pose",
    "epn612": "https://zenodo.org/records/4421500",
    "uci_emg": "https://archive.ics.uci.edu/dataset/481/emg+data+for+gestures",
    "generic": "",  # the user's own recordings
}

INSTRUCTIONS: dict[str, str] = {
    "ninapro_db5": """\
Download s1.zip ... s10.zip from the NinaPro DB5 page (https://ninapro.hevs.ch, "DB5", files
under DB5_Preproc/) and unzip each into the manual dir, giving s<N>/S<N>_E<1-3>_A1.mat.
""",
    "ninapro_db6": """\
Download DB6_s<N>_a.zip and DB6_s<N>_b.zip for N = 1..10 from the NinaPro DB6 page
(https://ninapro.hevs.ch, files under DB6_Preproc/) and unzip them all into the manual dir,
giving DB6_s<N>_a/S<N>_D<d>_T<t>.mat and DB6_s<N>_b/... (macOS clutter is ignored).
""",
    "ninapro_db7": """\
Download Subject_<N>.zip for N = 1..22 from the NinaPro DB7 page (https://ninapro.hevs.ch,
files under DB7_Preproc/) and unzip each into Subject_<N>/ in the manual dir, giving
Subject_<N>/S<N>_E<1-2>_A1.mat.
""",
    "ninapro_db8": """\
Download S<N>_E1_A<1-3>.mat for N = 1..12 from the NinaPro DB8 page (https://ninapro.hevs.ch,
files under DB8/) straight into the manual dir (flat, no zip).
""",
    "emg2pose": """\
Download emg2pose_dataset.tar (431 GiB; or emg2pose_dataset_mini.tar, ~600 MiB) and
emg2pose_metadata.csv as described at https://github.com/facebookresearch/emg2pose. Extract the
tar and put the CSV beside the .hdf5 files as metadata.csv, so the manual dir holds
metadata.csv and <filename>.hdf5 for every row.
""",
    "epn612": """\
Download "EMG-EPN612 Dataset.zip" from Zenodo record 4421500 (https://zenodo.org/records/4421500)
and unzip it into the manual dir, giving EMG-EPN612 Dataset/{trainingJSON,testingJSON}/
user<N>/user<N>.json.
""",
    "uci_emg": """\
Download the UCI "EMG data for gestures" archive
(https://archive.ics.uci.edu/static/public/481/emg+data+for+gestures.zip) and unzip it into the
manual dir, giving EMG_data_for_gestures-master/<NN>/<series>_raw_data_*.txt, NN = 01..36.
""",
    "generic": """\
Your own recordings: a folder of CSV/TSV/TXT (header row), .npy, .npz, .mat, .edf/.bdf or WFDB
(.hea + .dat) files, one continuous recording each, one sub-folder per subject by default.
Prepare it with `tinymyo prep generic --manual_dir DIR --name NAME` (see docs/data.md, "Your
own recordings").
""",
}

_TASKS = {
    "pretraining": "masked-reconstruction pretraining (no labels)",
    "classification": "gesture classification",
    "regression": "regression of 5 degrees of actuation",
}


def describe(protocol: Protocol) -> str:
    """The builder description: what the dataset is, its record, and every protocol decision."""
    rate = f"{protocol.fs:g} Hz" if protocol.fs else "the file's own rate"
    classes = f", {len(protocol.class_names)} classes" if protocol.class_names else ""
    return (
        f"{protocol.name}: window records for {_TASKS[protocol.task]}{classes}, prepared with "
        f"TinyMyo's protocol (tinymyo_jax.data.protocols) from the raw files in --manual_dir. "
        f"{protocol.channels} real channels{' zero-padded to 16' if protocol.channels < 16 else ''} "
        f"(channel_mask), {rate}, band-pass "
        f"{protocol.band[0]:g}-{protocol.band[1]:g} Hz + 50 Hz notch, z-score per recording. "
        f"Splits: {', '.join(protocol.splits)}. prep_report.json beside the shards lists every raw "
        f"file, its windows and any file skipped with the reason.\n\nDecisions:\n{protocol.decisions}"
    )

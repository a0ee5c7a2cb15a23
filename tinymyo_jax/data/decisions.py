"""What we decided where TinyMyo's sources disagree or are silent (datasets.md §12), per corpus.

Markdown bullets, shown in each TFDS builder's description (so `tfds build` output and the
prepared dataset's dataset_info.json carry them) and repeated in docs/data.md. "§12.n" is item n
of the conflict list in datasets.md; "BF-PR4" is TinyMyo's preprocessing scripts.
"""

from __future__ import annotations

COMMON = """\
- Signal chain (BF-PR4): zero-phase Butterworth order-4 band-pass, then a zero-phase 50 Hz
  notch (Q 30), then a per-channel z-score (ddof 1, std 0 -> 1) over the recording; windows
  are cut afterwards. Implemented once, in `tinymyo_jax.data.signal.preprocess`.
- Record: `emg` float16 [16, W] (real channels first, zero rows after them), `channel_mask`
  [16] True for real channels that are not constant over the recording (padding and dead
  electrodes are False), `subject`, `dataset` (index into the corpus list), `file_index`,
  `recording`, `start` (traceability: raw file in prep_report.json, recording in the file,
  first sample), and `label` or `target` where the task has one.
- Downstream sets are zero-padded to 16 channels with the mask, like the pretraining sets
  (§12.14: TinyMyo's fine-tuning configs do not show how 8-channel data met `in_chans: 16`; the
  mask lets the model exclude padded channels, §12.12).
- No augmentation is stored (TinyMyo triples DB5's train split with random copies; random
  augmentation belongs in the input pipeline, not in deterministic shards).
- Splits are named train / validation / test (TFDS names for TinyMyo's train / val / test).
"""

PRETRAINING = """\
- Pretraining split (§12.11): TinyMyo split all windows of a corpus at random 80/20, which puts
  windows of the same subject, even overlapping windows, on both sides. We hold out whole
  subjects: round(10 % of the subjects), at least one, the ones with the smallest
  SHA-256("<corpus>/<subject>") (DB6: subject 4; DB7: subjects 9 and 12; emg2pose: 19 of 193
  users). All windows of the other subjects are train. There is no test split.
- Rest windows (§12.8) are kept: labels play no part in pretraining; TinyMyo dropped windows
  whose centre repetition is 0 only as a side effect of its repetition-based split.
- 16 channels at 2 kHz, window 1000 / stride 500 (TinyMyo doc), windows that fit (tail dropped);
  band-pass 20-450 Hz.
"""

DECISIONS: dict[str, str] = {
    "ninapro_db5": """\
- 16 Myo channels at 200 Hz, band-pass 20-90 Hz.
- Window 200 samples = 1 s (§12.2: BF-PR8's "1 s", the old "200" read as samples); stride 100
  (not stated by any source; half a window, as for the other sets).
- Windows start at every multiple of the stride below T and the last ones are zero-padded past
  the end (§12.9, TinyMyo's DB5 script). Label and repetition are taken at the window's first
  sample.
- Split by that repetition: 1, 2, 5 train; 4, 6 validation; 3 test. Repetition 0 (rest) drops
  the window (§12.8), as in TinyMyo; the report counts them.
- Classes (§12.7): 52. Labels = global movement id - 1 (E1 1-12, E2 13-29, E3 30-52 -> 0-51).
  TinyMyo's code keeps ids 0-52 with 53 outputs, but id 0 (rest) cannot survive the repetition
  rule, so its 53rd output is never trained.
""",
    "ninapro_db6": """\
- 14 electrodes: the reader removes the always-zero columns 8 and 9; rows 14-15 are padding.
""" + PRETRAINING,
    "ninapro_db7": """\
- 12 channels; rows 12-15 are padding.
- Window 1000 / stride 500 (§12.10): the documented values and the pretrained model's input,
  not the script's 256 / 128 defaults.
""" + PRETRAINING,
    "emg2pose": """\
- 16 channels; joint angles are not stored (pretraining only). Subjects are metadata.csv users
  (id = SHA-256 prefix of the user string, see the reader); Meta's own train/val/test column is
  not used, subjects are held out as below (§12.13: the corpus's user count, 193 or 192, does
  not matter to this rule).
- Notch at 50 Hz as TinyMyo, although emg2pose was recorded on 60 Hz mains.
""" + PRETRAINING,
    "ninapro_db8": """\
- Sampling rate (§12.5): the files hold every signal on a 2 kHz grid (EMG acquired at 1111 Hz
  and upsampled), so we filter at 2 kHz with the pretraining band 20-450 Hz and a 50 Hz notch.
  TinyMyo's script designed 20-90 Hz / 50 Hz filters for 1111 Hz and ran them on the 2 kHz
  data, which really band-passed ~36-162 Hz and notched ~90 Hz; we do not reproduce that.
- Windows (§12.4): configs w1000 (default, 500 ms, TinyMyo's best) and w200 (100 ms); stride
  half a window (not stated by any source); windows that fit.
- Target: the window's whole DoA sequence [W, 5] float32, in degrees (DoA = glove x Krasoulis
  matrix, computed by the reader; glove NaN rows dropped there, as TinyMyo does).
- Split by acquisition: A1 train, A2 validation, A3 test.
""",
    "epn612": """\
- 8 Myo channels at 200 Hz, band-pass 20-90 Hz; each trial is filtered and z-scored on its
  own, then cut to 1000 samples (5 s, §12.3) or zero-padded at the end: one window per trial.
- Classes (§12.7): 6, noGesture included (TinyMyo's code: noGesture 0, waveIn 1, waveOut 2,
  pinch 3, open 4, fist 5; its doc's "5 classes" does not match the code or the corpus).
- Split as TinyMyo: trainingJSON users' trainingSamples -> train, testingSamples ->
  validation; testingJSON users' trainingSamples: first 10 of each gesture -> train, the rest
  -> test; their unlabelled testingSamples are not used.
""",
    "uci_emg": """\
- Sampling rate (§12.6): read from each file's time column (ms); the published files step by
  ~1 ms (~1 kHz), not the 200 Hz TinyMyo assumed. Windows are 1000 samples at that rate (so
  the same 1000 rows TinyMyo's windows held, ~1 s), stride 500, and the band-pass is 20-90 Hz
  at the true rate (the Myo's EMG band; TinyMyo's 20-90 Hz "at 200 Hz" acted at ~100-450 Hz).
- The whole continuous recording is filtered and z-scored; windows are cut inside runs of one
  class, so none straddles a class change. TinyMyo deleted class-0 rows first, splicing
  separate segments together before filtering; we do not.
- Classes (§12.7): 6, classes 1-6 -> labels 0-5 (TinyMyo's num_classes: 6). Class 7 (extended
  palm, done by few subjects) windows are dropped and counted in the report; class 0
  (unmarked) rows give no windows.
- Split by subject: 1-24 train, 25-30 validation, 31-36 test.
""",
    "generic": """\
- Users' own recordings (`tinymyo prep generic`, tinymyo_jax/data/generic.py): the pretraining
  protocol of the corpora (resampled to 2 kHz by polyphase filtering, band-pass 20-450 Hz,
  window 1000 / stride 500, windows that fit). Channels chosen with --channels; more than 16
  without it is refused.
- Held out: whole subjects (10 %, at least one, per held-out split) when there are more subjects
  than held-out splits, else whole recordings, else the end of each recording in time
  (validation the last 10 % or one window, test as much before; straddling windows dropped). Unlabelled:
  train / validation; labelled: train / validation / test.
- Labels (optional): a file-name regex (one class per file) or per-sample labels (a CSV column,
  NPZ key or MAT variable; a window's label is its majority label); classes are the distinct
  values, sorted, indexed from 0.
""",
}

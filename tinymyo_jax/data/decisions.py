"""What we decided where TinyMyo's sources disagree or are silent (datasets.md §12): the parts
shared by several corpora. Each corpus's own decisions are in its module (`corpora/<name>.py`,
`DECISIONS`), which appends `PRETRAINING` where it applies; `COMMON` follows every corpus's.

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

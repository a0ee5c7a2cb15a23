"""The checks every corpus reader applies to a raw file's arrays: one implementation each.

Bad-input policy, the same for every corpus (a reader documents only its exceptions):

- **Non-finite samples** in a continuous per-sample signal (emg, joint angles, a time column):
  the time steps (rows) holding any NaN/Inf are counted. Up to `MAX_NONFINITE_FRACTION` (1 %)
  of the rows are repaired by linear interpolation in time, channel by channel (the nearest
  finite value at either end), because one NaN would spread through every later filter over
  the whole channel; the count goes to `extra["nonfinite_<name>_rows"]` with a warning. More
  than 1 % is a RawFileError: that is a broken recording, not a glitch. So a Recording's
  signals are always finite, and never silently repaired.
  Discrete per-sample vectors (labels, classes) are never interpolated: `integer_labels`
  refuses NaN/Inf there. The one corpus-specific exception is NinaPro DB8's glove, whose NaN
  rows are dropped from every array, as TinyMyo does (see `readers/ninapro.py`).
- **Dead channels** (exactly constant over the recording) are not an error, since real corpora
  contain them (NinaPro DB6 stores two always-zero columns, DB8's amputee three); `dead_channels`
  lists them for `extra["dead_channels"]` so later stages can mask them.
- **Degenerate channels** (`channel_findings`, applied by preparation to every recording of
  every corpus after its reader): samples beyond a physical bound in the file's unit
  (each corpus module's `emg_bound`, e.g. 10 V for corpora stored in volts; a 3e38 glitch) or non-finite are
  repaired by interpolation when they are at most 1 % of the channel, else the channel is
  marked dead (and zeroed, so no filter spreads it); a channel that sits at its minimum or
  maximum for at least `SATURATED_FRACTION` of the samples (clipped at the rails) is dead, as is
  a flat one. A recording with no live channel left is a RawFileError: such a file is skipped
  with the reason instead of giving windows whose every channel is masked.
- **Lengths**: per-sample arrays stored separately (emg, labels, targets, masks) may differ by a
  few samples in real exports (NinaPro); `align_lengths` truncates all to the shortest, records
  what was cut in `extra["truncated_samples"]` with a warning, and refuses a difference above
  `MAX_LENGTH_MISMATCH_FRACTION` (1 % of the longest) as a damaged file.
- **Sampling rate**: `fs_from_time` infers it from a time column; `check_fs_agrees` refuses two
  statements of the rate (an argument, an attribute, a time column) that differ by more than
  `FS_RELATIVE_TOLERANCE` (1 %); `plausible_fs` refuses a rate no surface EMG is recorded at
  (below `MIN_EMG_FS` = 100 Hz or above `MAX_EMG_FS` = 100 kHz): such a rate is a unit mistake
  (a time column in ms read as s, a period stored as a rate), and taken as true it resamples
  20 s into hours of made-up signal or asks for hundreds of GiB.
- **Labels** (`integer_labels`): whole numbers within int32, else refused: 1e20 must not wrap
  to -2147483648.
- **Masked channels are zero**: every channel `channel_findings` marks dead (flat, saturated,
  absurd) is set to 0 over the whole recording, so filtering and z-scoring give exact zeros in
  its rows instead of filter transients, and no consumer sees signal where the mask says none.

Every failure is a RawFileError naming the file (and, through `where`, the part of the file,
e.g. one EPN-612 trial).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from tinymyo_jax.data.readers.base import RawFileError

log = logging.getLogger(__name__)

# At most this fraction of a signal's time steps may be non-finite and still be repaired.
MAX_NONFINITE_FRACTION = 0.01
# A channel at its own minimum or maximum for at least this fraction of its samples is clipped at
# the rails (saturated): no usable signal. Live EMG, even quantised, spends far less time at its
# two extremes.
SATURATED_FRACTION = 0.5
# Per-sample arrays may differ in length by this fraction of the longest before the file is judged
# damaged rather than exported a few samples off.
MAX_LENGTH_MISMATCH_FRACTION = 0.01
# How far two statements of the sampling rate may differ: 1 % is far beyond clock drift and far
# below any real rate mix-up (e.g. 2 kHz vs 1111 Hz in NinaPro DB8).
FS_RELATIVE_TOLERANCE = 0.01
# The sampling rates surface EMG can be recorded at. Its band reaches ~450 Hz; the slowest
# devices in use (Myo armband, UCI's 200 Hz) stay above 100 Hz, and the fastest high-density
# amplifiers (OT Bioelettronica, 10.24 kHz) far below 100 kHz. Outside this range a rate is a
# unit mistake, not a recording.
MIN_EMG_FS = 100.0
MAX_EMG_FS = 100_000.0
# The id range of window records (int32).
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def repair_nonfinite(
    path: Path | str, name: str, signal: np.ndarray, extra: dict[str, Any], *, where: str = ""
) -> np.ndarray:
    """`signal` with short NaN/Inf stretches interpolated in time; RawFileError if there are many.

    Args:
      path: the raw file, for messages.
      name: what the signal is (`"emg"`, `"joint_angles"`, `"time"`); the count goes to
        `extra[f"nonfinite_{name}_rows"]` when it is not zero.
      signal: [T] or [T, C] float array; rows are time steps.
      extra: the recording's `meta.extra`, updated in place.
      where: the part of the file, prefixed to messages (e.g. "trainingSamples/idx_3").

    Returns:
      `signal` itself when it is all finite, else a repaired copy of the same shape and dtype.

    Raises:
      RawFileError: more than `MAX_NONFINITE_FRACTION` of the rows hold a NaN/Inf.
    """
    bad = ~np.isfinite(signal)
    if not bad.any():
        return signal
    columns = bad.reshape(bad.shape[0], -1)
    bad_rows = columns.any(axis=1)
    count, total = int(bad_rows.sum()), bad.shape[0]
    first = int(np.argmax(bad_rows))
    if count > MAX_NONFINITE_FRACTION * total:
        raise RawFileError(
            path,
            f"{_prefix(where)}{name} has NaN/Inf at {count} of {total} time steps ({count / total:.1%}, first at "
            f"sample {first}); more than {MAX_NONFINITE_FRACTION:.0%} cannot be repaired: re-export the file "
            "or cut out the bad stretch",
        )
    # Each channel keeps > 99 % of its rows finite, so np.interp always has points to use.
    repaired = signal.copy()
    flat = repaired.reshape(total, -1)
    time = np.arange(total)
    for channel in np.flatnonzero(columns.any(axis=0)):
        good = ~columns[:, channel]
        flat[~good, channel] = np.interp(time[~good], time[good], flat[good, channel].astype(np.float64))
    extra[f"nonfinite_{name}_rows"] = count
    log.warning(
        "%s: %srepaired %d time steps of NaN/Inf %s (first at sample %d) by linear interpolation",
        path, _prefix(where), count, name, first,
    )
    return repaired


def integer_labels(
    path: Path | str,
    name: str,
    values: np.ndarray,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    where: str = "",
) -> np.ndarray:
    """A per-sample vector of integer ids (class labels, repetitions), checked, as int32 [T].

    Floats are accepted when they hold whole numbers (MATLAB and CSV store labels as doubles);
    NaN/Inf, fractions and ids outside [minimum, maximum] or outside int32 are a RawFileError
    naming the first (a cast would wrap 1e20 to -2147483648 silently).

    Args:
      values: [T] numeric (bool, int or float).
      minimum, maximum: inclusive bounds on the ids, or None for no bound.
    """
    if values.dtype.kind not in "biuf":
        raise RawFileError(path, f"{_prefix(where)}{name} must hold integer ids, got dtype {values.dtype}")
    if values.dtype.kind == "f":
        fractional = ~np.isfinite(values) | (values != np.round(values))
        if fractional.any():
            first = int(np.argmax(fractional))
            raise RawFileError(
                path,
                f"{_prefix(where)}{name} holds a non-integer value {values[first].item()!r} (row {first}); "
                "expected integer ids",
            )
    low = INT32_MIN if minimum is None else max(minimum, INT32_MIN)
    high = INT32_MAX if maximum is None else min(maximum, INT32_MAX)
    outside = (values < low) | (values > high)
    if outside.any():
        first = int(np.argmax(outside))
        bounds = f"{low}..{high}"
        raise RawFileError(
            path, f"{_prefix(where)}{name} holds {values[first].item()!r} (row {first}), outside the ids {bounds}"
        )
    return values.astype(np.int32)


def dead_channels(emg: np.ndarray) -> list[int]:
    """Indices of channels that are exactly constant over the whole recording.

    Exact constancy (max == min) rather than a small-variance threshold: it is unit-free (the
    corpora store volts ~1e-5, ADC counts ~100, unit-scale floats) and never flags a quiet but
    live electrode. A disconnected or unused column is written as one repeated value.

    Args:
      emg: [T, C], T >= 1, finite.

    Returns:
      sorted channel indices (0-based).
    """
    flat = np.max(emg, axis=0) == np.min(emg, axis=0)
    return [int(c) for c in np.flatnonzero(flat)]


def channel_findings(
    path: Path | str, bound: float, emg: np.ndarray, extra: dict[str, Any], *, where: str = ""
) -> np.ndarray:
    """Per-channel checks of a recording's EMG (see the module docstring); `emg` with repairs.

    Args:
      path: the raw file, for messages.
      bound: largest |sample| a channel can physically hold in the file's unit (the corpus's
        `emg_bound`, corpora/__init__.py); beyond it a value is a glitch.
      emg: [T, C] float, T >= 1.
      extra: the recording's `meta.extra`, updated in place: `dead_channels` (the union of the
        reader's and these findings), and when there are any `absurd_emg_samples` {channel:
        samples repaired}, `absurd_emg_channels` (dead: too many), `saturated_channels`,
        `flat_channels`.

    Returns:
      `emg` itself when nothing was repaired or zeroed, else a copy; every dead channel is 0.

    Raises:
      RawFileError: no channel is live.
    """
    total, channels = emg.shape
    dead = set(int(c) for c in extra.get("dead_channels", []))
    bad = ~np.isfinite(emg) | (np.abs(np.nan_to_num(emg, nan=0.0, posinf=np.inf, neginf=np.inf)) > bound)
    repaired: dict[int, int] = {}
    absurd_dead: list[int] = []
    out = emg
    if bad.any():
        out = emg.copy()
        time = np.arange(total)
        for channel in np.flatnonzero(bad.any(axis=0)):
            channel = int(channel)
            count = int(bad[:, channel].sum())
            if count <= MAX_NONFINITE_FRACTION * total:
                good = ~bad[:, channel]
                out[~good, channel] = np.interp(time[~good], time[good], out[good, channel].astype(np.float64))
                repaired[channel] = count
            else:
                out[:, channel] = 0.0
                absurd_dead.append(channel)
        log.warning("%s: %semg beyond +-%g (the file's unit) or non-finite: repaired %s, channels marked dead %s",
                    path, _prefix(where), bound, repaired or "none", absurd_dead or "none")  # fmt: skip
    low, high = out.min(axis=0), out.max(axis=0)
    flat = [int(c) for c in np.flatnonzero(high == low)]
    at_rails = ((out == low) | (out == high)).mean(axis=0)
    saturated = [int(c) for c in np.flatnonzero((high != low) & (at_rails >= SATURATED_FRACTION))]
    dead.update(absurd_dead, flat, saturated)
    unzeroed = [c for c in sorted(dead) if c < channels and np.any(out[:, c] != 0)]
    if unzeroed:  # zero what the mask hides: a constant or clipped row filters into transients
        out = out.copy() if out is emg else out
        out[:, unzeroed] = 0.0
    if repaired:
        extra["absurd_emg_samples"] = repaired
    if absurd_dead:
        extra["absurd_emg_channels"] = absurd_dead
    if saturated:
        extra["saturated_channels"] = saturated
    if flat and set(flat) - set(int(c) for c in extra.get("dead_channels", [])):
        extra["flat_channels"] = flat
    extra["dead_channels"] = sorted(dead)
    if len(dead) >= channels:
        reasons = ", ".join(
            f"{name} {values}" for name, values in
            (("flat", flat), ("saturated", saturated), (f"beyond +-{bound:g} or non-finite", absurd_dead)) if values
        )  # fmt: skip
        raise RawFileError(path, f"{_prefix(where)}no live EMG channel of {channels} ({reasons})")
    return out


def align_lengths(
    path: Path | str, series: dict[str, np.ndarray], extra: dict[str, Any], *, where: str = ""
) -> dict[str, np.ndarray]:
    """Truncate every per-sample array to the shortest; record and warn about what was cut.

    Args:
      series: name -> array whose first axis is time (emg, labels, targets, masks).
      extra: the recording's `meta.extra`; `extra["truncated_samples"]` = {name: samples cut}
        for the arrays that were longer, only when something was cut.

    Returns:
      the same names -> arrays of one length (the input arrays when they already agree).

    Raises:
      RawFileError: the lengths differ by more than `MAX_LENGTH_MISMATCH_FRACTION` of the longest.
    """
    lengths = {name: array.shape[0] for name, array in series.items()}
    shortest, longest = min(lengths.values()), max(lengths.values())
    if shortest == longest:
        return series
    listing = ", ".join(f"{name} {n}" for name, n in lengths.items())
    if longest - shortest > MAX_LENGTH_MISMATCH_FRACTION * longest:
        raise RawFileError(
            path,
            f"{_prefix(where)}per-sample arrays disagree in length by more than "
            f"{MAX_LENGTH_MISMATCH_FRACTION:.0%} ({listing}); the file looks damaged",
        )
    extra["truncated_samples"] = {name: n - shortest for name, n in lengths.items() if n > shortest}
    log.warning("%s: %slengths differ (%s); truncated to %d samples", path, _prefix(where), listing, shortest)
    return {name: array[:shortest] for name, array in series.items()}


def fs_from_time(path: Path | str, time: np.ndarray, *, tolerance: float | None) -> float:
    """Sampling rate from a time column: 1 / (mean of the steps within 10 % of the median step).

    The median makes the estimate immune to gaps and glitches; averaging the regular steps
    around it removes timestamp quantisation, which biases the median alone (float64 unix seconds
    resolve ~2.4e-7 s, so a 2-kHz step reads as 0.00049996 s and the median gives 2000.14 Hz).

    Args:
      path: the raw file, for messages.
      time: [T] finite sample times, T >= 2. In seconds the result is in Hz; callers with another
        unit pass the column as stored and rescale the result, which keeps e.g. a 1-ms step at
        exactly 1000 Hz instead of 999.9999999.
      tolerance: when not None, every step must be positive and within `tolerance` (relative) of
        the median step, else RawFileError; None only requires a positive median step.

    Returns:
      the rate in samples per unit of `time` (Hz for seconds).
    """
    if time.shape[0] < 2:
        raise RawFileError(path, f"need at least 2 samples to infer fs from time, got {time.shape[0]}")
    steps = np.diff(time.astype(np.float64))
    step = float(np.median(steps))
    if not np.isfinite(step) or step <= 0:
        raise RawFileError(path, f"time column has a median step of {step}; it must increase")
    if tolerance is not None:
        if np.any(steps <= 0):
            first = int(np.argmax(steps <= 0))
            raise RawFileError(path, f"time column is not strictly increasing (sample {first + 1})")
        deviation = np.abs(steps - step) / step
        if np.any(deviation > tolerance):
            first = int(np.argmax(deviation > tolerance))
            raise RawFileError(
                path,
                f"time column is not uniform: step {steps[first]:.6g} at sample {first + 1} vs median "
                f"{step:.6g} (tolerance {tolerance:.0%}); resample the file or pass fs and drop the time column",
            )
    regular = steps[np.abs(steps - step) <= 0.1 * step]
    return 1.0 / float(np.mean(regular))


def time_irregularities(time: np.ndarray) -> dict[str, int]:
    """Counts of a time column's irregular steps, for `meta.extra` of corpora that accept them.

    Returns:
      {"time_nonincreasing_steps": steps <= 0, "time_gaps": steps > 1.5 x the median step}.
      Neither is an error where the rows stay in acquisition order (emg2pose, UCI).
    """
    steps = np.diff(time.astype(np.float64))
    median = float(np.median(steps)) if steps.size else 0.0
    return {
        "time_nonincreasing_steps": int(np.count_nonzero(steps <= 0)),
        "time_gaps": int(np.count_nonzero(steps > 1.5 * median)),
    }


def check_fs_agrees(path: Path | str, fs: float, other: float, what: str) -> None:
    """Raise RawFileError when two statements of the sampling rate differ by more than 1 %."""
    if abs(fs - other) > FS_RELATIVE_TOLERANCE * other:
        raise RawFileError(
            path,
            f"sampling rate {fs:g} Hz disagrees with {what} ({other:g} Hz) by more than {FS_RELATIVE_TOLERANCE:.0%}",
        )


def plausible_fs(path: Path | str, fs: float, how: str, fix: str) -> float:
    """`fs` when surface EMG can be sampled at it (MIN_EMG_FS..MAX_EMG_FS Hz), else RawFileError.

    Args:
      path: the raw file, for messages.
      fs: the rate in Hz.
      how: where the rate came from, for the message (e.g. "the 'time' column (in s)").
      fix: what the user can do, appended to the message (e.g. "pass --time-unit ms").
    """
    if MIN_EMG_FS <= fs <= MAX_EMG_FS:
        return fs
    raise RawFileError(
        path,
        f"sampling rate {fs:.6g} Hz from {how} is not one surface EMG is recorded at "
        f"({MIN_EMG_FS:g} Hz to {MAX_EMG_FS:g} Hz){'; ' + fix if fix else ''}",
    )

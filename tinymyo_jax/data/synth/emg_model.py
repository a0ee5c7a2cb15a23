"""Synthetic surface EMG that behaves like EMG, for the synthetic raw corpora and the tests.

What "behaves like EMG" means here, and why each part exists:

- Motor-unit-like activity: trains of biphasic motor-unit action potentials (MUAPs; the first
  derivative of a Gaussian, sigma 1.2-2.4 ms, so the spectrum peaks near 60-130 Hz and the median
  frequency lies near 110 Hz, as in real sEMG) whose firing rate and amplitude both grow with the
  muscle activation, plus activation-modulated Gaussian noise (the incoherent sum of many distant
  units). Both go through the same MUAP shape and a 20-450 Hz band-pass (capped at 0.9 x Nyquist
  for low-rate devices, e.g. 20-90 Hz at 200 Hz), so the preprocessing's band-pass has realistic
  work to do and no more.
- RMS grows linearly with activation (amplitude ~ sqrt(a), rate ~ a, so power ~ a^2): a
  per-channel RMS feature separates gestures, as it does on real data (an electrode's RMS follows
  the activation of its neighbourhood, see the next point).
- Volume conduction: electrodes see MIXTURES of sources, as on a real armband. Each channel is an
  electrode on a ring; under each lies a source (a muscle / motor-unit pool) whose MUAP trains
  reach every electrode at the same time with a gain that falls off as a Gaussian of the circular
  distance (width 1-1.5 electrode spacings, `source_gains`), plus a local pool seen by that
  electrode alone (25 % of the activity power). Adjacent electrodes therefore correlate (|r| ~0.6
  after band-pass), electrodes across the ring do not (~0.01 on 16 channels), and a channel's
  samples are ~50 % predictable (MSE) from the same-time samples of the others: the structure a
  masked-reconstruction model can exploit beyond temporal interpolation.
- Power-line interference at `powerline_hz` with a random phase per channel (so the notch filter
  is exercised) and white sensor noise (so rest is never exactly zero).

The gesture -> channel map (`gesture_activation_patterns`) is fixed by a seed so all subjects of a
corpus share it; `activation_from_labels` adds per-subject variation, so a classifier has to
generalise a little across subjects, as on real data.

Everything is vectorised over samples and channels (one [T, 2C] x [2C, C] mixing product, one FFT
convolution and one IIR filter pass for the whole [T, C] array): 16 channels x 1,000,000 samples
take about 1.4 s of one core at 2 kHz and 1.8 s at 200 Hz, where MUAP events are dense (1.1 s
for both before the sources were mixed: twice the pools to draw, plus the mixing product).

Shapes: time first, [T, C]. Units: Hz for rates and frequencies, seconds for durations; the
output has unit scale (RMS ~ 1 at activation 1), not volts: corpus writers rescale it to the
file's units (volts ~1e-5, Myo ADC counts, ...).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.ndimage
import scipy.signal
import scipy.special

# Total MUAP firing events per second per motor-unit pool (source or local) at activation 1 (the
# sum over its many units). Real single units fire at 8-40 Hz; an electrode picks up several of them.
_MAX_EVENT_RATE_HZ = 150.0
# Spread of MUAP amplitudes (log-normal sigma): units differ in size and distance to the electrode.
_MUAP_AMPLITUDE_LOG_SIGMA = 0.3
# Fraction of the activity power carried by the discrete MUAP trains (the rest is filtered noise).
_MUAP_POWER_FRACTION = 0.5
# Band of surface EMG; the upper edge is capped below Nyquist for low-rate devices.
_EMG_BAND_HZ = (20.0, 450.0)
_BAND_ORDER = 4
_REST_ACTIVATION = 0.05
# Volume conduction (see `source_gains`): Gaussian fall-off width of a source's field in electrode
# spacings, log-normal spread of source strengths, and the share of the activity power that is
# local to one electrode (independent across channels).
_SOURCE_WIDTH_SPACINGS = (1.0, 1.5)
_SOURCE_AMPLITUDE_LOG_SIGMA = 0.3
_LOCAL_POWER_FRACTION = 0.25
# Seeds the source geometry (one fixed anatomy per channel count; see `source_gains`).
_GEOMETRY_SEED = 20_250_917


def gesture_activation_patterns(num_gestures: int, num_channels: int, *, seed: int = 0) -> np.ndarray:
    """The gesture -> channel activation map shared by every subject of a corpus.

    Args:
      num_gestures: number of classes including rest (row 0).
      num_channels: number of electrodes.
      seed: fixes the map; corpora use one seed for all their subjects.

    Returns:
      float32 [num_gestures, num_channels], values in [0.05, 1]. Row 0 (rest) is 0.05 everywhere;
      every other row peaks at 1 on at least one channel, so gestures are not just weaker rest.
    """
    if num_gestures < 1 or num_channels < 1:
        raise ValueError(f"need >= 1 gesture and channel, got {num_gestures}, {num_channels}")
    rng = np.random.default_rng(seed)
    patterns = np.full((num_gestures, num_channels), _REST_ACTIVATION, dtype=np.float64)
    if num_gestures > 1:
        channel = np.arange(num_channels)
        rows = []
        for _ in range(num_gestures - 1):
            # A gesture drives one muscle group (a spatial bump around a centre electrode; an
            # armband is a ring, hence the circular distance) plus a few co-contracting channels.
            centre = rng.integers(num_channels)
            width = rng.uniform(0.5, max(1.0, num_channels / 4))
            distance = np.minimum(np.abs(channel - centre), num_channels - np.abs(channel - centre))
            bump = np.exp(-0.5 * (distance / width) ** 2)
            co_contraction = rng.random(num_channels) ** 3
            rows.append(np.maximum(bump, co_contraction))
        raw = np.stack(rows)
        raw /= raw.max(axis=1, keepdims=True)
        patterns[1:] = _REST_ACTIVATION + (1.0 - _REST_ACTIVATION) * raw
    return patterns.astype(np.float32)


def block_protocol(
    num_movements: int,
    repetitions: int,
    fs: float,
    *,
    move_s: float,
    rest_s: float,
    movement_ids: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The NinaPro acquisition protocol: each movement repeated, rest between every repetition.

    Order: rest, m1 rep 1, rest, m1 rep 2, ..., m1 rep R, rest, m2 rep 1, ..., mK rep R, rest.

    Args:
      num_movements: K, number of distinct movements.
      repetitions: R, repetitions per movement (numbered 1..R).
      fs: sampling rate in Hz.
      move_s, rest_s: durations of one movement and one rest block in seconds.
      movement_ids: the label of each movement (default 1..K), e.g. DB6's non-contiguous ids.

    Returns:
      (labels, repetition), both int32 [T] with T = (K*R + 1) * rest + K*R * move samples;
      rest samples have label 0 and repetition 0.
    """
    ids = list(range(1, num_movements + 1)) if movement_ids is None else [int(m) for m in movement_ids]
    if len(ids) != num_movements:
        raise ValueError(f"movement_ids has {len(ids)} entries but num_movements is {num_movements}")
    if any(m == 0 for m in ids):
        raise ValueError("label 0 is rest; movement ids must be non-zero")
    move_n, rest_n = int(round(move_s * fs)), int(round(rest_s * fs))
    if move_n < 1 or rest_n < 1 or repetitions < 1:
        raise ValueError(f"blocks must be >= 1 sample and repetitions >= 1 (move {move_n}, rest {rest_n})")
    num_blocks = num_movements * repetitions
    block_label = np.repeat(np.asarray(ids, dtype=np.int32), repetitions)
    block_rep = np.tile(np.arange(1, repetitions + 1, dtype=np.int32), num_movements)
    # Interleave: rest, block, rest, block, ..., rest  (2 * num_blocks + 1 segments).
    seg_label = np.zeros(2 * num_blocks + 1, dtype=np.int32)
    seg_rep = np.zeros(2 * num_blocks + 1, dtype=np.int32)
    seg_label[1::2], seg_rep[1::2] = block_label, block_rep
    seg_len = np.full(2 * num_blocks + 1, rest_n)
    seg_len[1::2] = move_n
    return np.repeat(seg_label, seg_len), np.repeat(seg_rep, seg_len)


def activation_from_labels(
    labels: np.ndarray,
    patterns: np.ndarray,
    fs: float,
    *,
    ramp_s: float = 0.1,
    rng: np.random.Generator | None = None,
    subject_variation: float = 0.2,
) -> np.ndarray:
    """Per-sample muscle activation from per-sample class labels.

    Args:
      labels: int [T], values indexing rows of `patterns` (0 = rest).
      patterns: [G, C] from `gesture_activation_patterns`.
      fs: sampling rate in Hz.
      ramp_s: onset/offset duration in seconds (a moving average of this length turns steps into
        linear ramps, as muscles do not switch on instantly).
      rng: when given, the subject's own variation is drawn from it: every (gesture, channel)
        entry is multiplied by exp(subject_variation * N(0, 1)) (electrode placement and anatomy),
        and every constant-label segment by exp(0.1 * N(0, 1)) (effort differs per repetition).
        None gives the exact pattern rows.
      subject_variation: log-normal sigma of the per-subject factors.

    Returns:
      float32 [T, C], >= 0.
    """
    labels = np.asarray(labels)
    patterns = np.asarray(patterns, dtype=np.float64)
    if labels.ndim != 1:
        raise ValueError(f"labels must be [T], got shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= patterns.shape[0]):
        raise ValueError(f"labels span [{labels.min()}, {labels.max()}] but there are {patterns.shape[0]} patterns")
    if rng is not None:
        patterns = patterns * np.exp(subject_variation * rng.standard_normal(patterns.shape))
    activation = patterns[labels]
    if rng is not None and labels.size:
        segment = np.concatenate([[0], np.cumsum(labels[1:] != labels[:-1])])
        effort = np.exp(0.1 * rng.standard_normal(segment[-1] + 1))
        activation *= effort[segment][:, None]
    ramp_n = int(round(ramp_s * fs))
    if ramp_n > 1 and labels.size:
        activation = scipy.ndimage.uniform_filter1d(activation, ramp_n, axis=0, mode="nearest")
    return np.maximum(activation, 0.0).astype(np.float32)


def smooth_latents(
    rng: np.random.Generator,
    num_samples: int,
    num_latents: int,
    fs: float,
    *,
    cutoff_hz: float = 2.0,
) -> np.ndarray:
    """Slow random processes in [0, 1], the hidden "intent" behind continuous movements.

    Corpora with regression targets use activation = latents @ mixing and joint angles = another
    linear map of the same latents, so angles are learnable from EMG.

    Args:
      rng: random source.
      num_samples: T.
      num_latents: K.
      fs: sampling rate in Hz.
      cutoff_hz: bandwidth of the processes (human movement is mostly below a few Hz).

    Returns:
      float32 [T, K] in (0, 1); marginally ~uniform (Gaussian low-passed noise at unit variance
      mapped through the normal CDF).
    """
    if cutoff_hz <= 0 or cutoff_hz >= fs / 2:
        raise ValueError(f"cutoff_hz must be in (0, fs/2 = {fs / 2}), got {cutoff_hz}")
    sos = scipy.signal.butter(2, cutoff_hz, btype="lowpass", fs=fs, output="sos")
    # Drop a warm-up so the start is not pinned near 0.5 by the filter's zero initial state.
    warmup = int(np.ceil(3 * fs / cutoff_hz))
    noise = rng.standard_normal((num_samples + warmup, num_latents))
    smooth = scipy.signal.sosfilt(sos, noise, axis=0)[warmup:]
    gain = np.sqrt(np.sum(_impulse_response(sos, warmup) ** 2))
    return scipy.special.ndtr(smooth / gain).astype(np.float32)


def synthesize_emg(
    rng: np.random.Generator,
    activation: np.ndarray,
    fs: float,
    *,
    powerline_hz: float = 50.0,
    powerline_amplitude: float = 0.05,
    noise_amplitude: float = 0.02,
) -> np.ndarray:
    """Surface EMG for a given activation time course: volume-conducted sources plus local activity.

    Channel c is treated as electrode c of an armband (a ring of C equally spaced electrodes). The
    activity is a mixture (see `source_gains` for the geometry):

      electrode_c = w_c * [ sqrt(1 - f) * sum_s G[c, s] drive_s + sqrt(f) * local_c ]

    then band-passed. drive_s is the MUAP train + background of source s (a muscle / motor-unit
    pool under electrode s, driven by activation[:, s]); local_c is an independent drive of the same
    kind at activation[:, c] (units seen by electrode c alone); f = 0.25 of the activity power is
    local; w_c is electrode c's MUAP wavelet (a source's MUAP reaches every electrode at the same
    time, slightly wider or narrower at each). Rows of G have unit energy, so a spatially uniform
    activation a gives every electrode activity RMS ~= a, and a non-uniform one gives
    RMS_c ~= sqrt((1 - f) * sum_s G[c, s]^2 a_s^2 + f * a_c^2): the activation seen through the
    electrode's neighbourhood.

    Args:
      rng: random source (MUAP timing, amplitudes, shapes, noise, power-line phase).
      activation: float [T, C] >= 0, per-sample activation of the muscle under each electrode
        (1 = strong).
      fs: sampling rate in Hz.
      powerline_hz: mains frequency; skipped when at or above Nyquist.
      powerline_amplitude: amplitude of the mains sine (unit scale, before per-channel jitter).
      noise_amplitude: standard deviation of white sensor noise.

    Returns:
      float32 [T, C]. The activity part has RMS ~= activation for an activation constant in time
      and across channels.
    """
    activation = np.asarray(activation)
    if activation.ndim != 2:
        raise ValueError(f"activation must be [T, C], got shape {activation.shape}")
    if activation.size and activation.min() < 0:
        raise ValueError("activation must be >= 0")
    num_samples, num_channels = activation.shape
    if num_samples == 0:
        return np.zeros((0, num_channels), np.float32)
    # float32 throughout the bulk arrays: half the memory traffic, and the FFT convolution and
    # the filter are accurate far beyond what synthetic data needs.
    a = activation.astype(np.float32)

    # One drive per source (columns 0..C-1) and per local pool (columns C..2C-1), drawn together.
    drive = _muap_drive(rng, a, fs, pools=2)
    gains = source_gains(num_channels)  # [C electrodes, S = C sources], fixed anatomy
    mixing = np.concatenate(
        [np.sqrt(1.0 - _LOCAL_POWER_FRACTION) * gains.T, np.sqrt(_LOCAL_POWER_FRACTION) * np.eye(num_channels)]
    )  # [2C, C]
    drive = drive @ mixing.astype(np.float32)

    # Shape by one MUAP wavelet per electrode (electrode-to-fibre distance sets its width), then
    # band-limit. Kernel energy normalises the activity to unit power at activation 1.
    wavelets = _muap_wavelets(rng, num_channels, fs)  # [L, C]
    sos = _emg_band_sos(fs)
    activity = scipy.signal.oaconvolve(drive, wavelets.astype(np.float32), mode="full", axes=0)[:num_samples]
    del drive
    activity = scipy.signal.sosfilt(sos, activity, axis=0)
    impulse_len = wavelets.shape[0] + int(fs)  # 1 s: the 20 Hz high-pass has decayed by then
    kernels = scipy.signal.sosfilt(sos, np.pad(wavelets, ((0, impulse_len - wavelets.shape[0]), (0, 0))), axis=0)
    activity /= np.sqrt(np.sum(kernels**2, axis=0))

    activity = activity.astype(np.float32)
    if powerline_amplitude > 0 and powerline_hz < fs / 2:
        phase = rng.uniform(0, 2 * np.pi, num_channels)
        amplitude = powerline_amplitude * rng.uniform(0.8, 1.2, num_channels)
        # sin(wt + phase) = sin(wt) cos(phase) + cos(wt) sin(phase): two [T] sines computed once
        # in float64 (a float32 time axis loses the phase over long recordings), mixed per channel.
        omega_t = 2 * np.pi * powerline_hz * np.arange(num_samples) / fs
        activity += (np.sin(omega_t)[:, None] * (amplitude * np.cos(phase))).astype(np.float32)
        activity += (np.cos(omega_t)[:, None] * (amplitude * np.sin(phase))).astype(np.float32)
    if noise_amplitude > 0:
        activity += np.float32(noise_amplitude) * rng.standard_normal(a.shape, dtype=np.float32)
    return activity


def source_gains(num_channels: int) -> np.ndarray:
    """Volume-conduction gains of an armband: G[c, s], how strongly electrode c sees source s.

    C electrodes sit at positions 0..C-1 on a ring (circumference C electrode spacings). Source s
    (a muscle / motor-unit pool) lies under electrode s, displaced by U(-0.25, 0.25) spacings; its
    field falls off as a Gaussian of the circular distance d(c, s) with width sigma_s ~
    U(1.0, 1.5) spacings (deeper or larger muscles spread wider), times a per-source amplitude
    exp(0.3 N(0, 1)):

      G[c, s] = amplitude_s * exp(-d(c, s)^2 / (2 sigma_s^2)),

    each row then scaled to unit energy (sum_s G[c, s]^2 = 1), so every electrode carries the same
    power at uniform activation. With these widths adjacent electrodes share most of their sources
    (gain ~0.6-0.8 of the nearest source) and electrodes 3+ spacings apart almost none.

    The draws come from a fixed seed per channel count, not from the caller's rng: the forearm's
    anatomy is the same for every recording of a corpus (corpus writers call `synthesize_emg` once
    per file or even per trial, and the volume conductor must not change between a user's trials);
    placement and anatomy differences between users enter through the activation
    (`activation_from_labels`' subject variation, writers' per-user channel gains).

    Returns:
      float64 [C, C], >= 0, rows of unit L2 norm.
    """
    if num_channels < 1:
        raise ValueError(f"need >= 1 channel, got {num_channels}")
    rng = np.random.default_rng([_GEOMETRY_SEED, num_channels])
    position = np.arange(num_channels) + rng.uniform(-0.25, 0.25, num_channels)
    width = rng.uniform(*_SOURCE_WIDTH_SPACINGS, num_channels)
    amplitude = np.exp(_SOURCE_AMPLITUDE_LOG_SIGMA * rng.standard_normal(num_channels))
    offset = np.abs(np.arange(num_channels)[:, None] - position[None, :]) % num_channels
    distance = np.minimum(offset, num_channels - offset)
    gains = amplitude * np.exp(-0.5 * (distance / width) ** 2)
    return gains / np.sqrt(np.sum(gains**2, axis=1, keepdims=True))


def _muap_drive(rng: np.random.Generator, a: np.ndarray, fs: float, pools: int) -> np.ndarray:
    """Unshaped activity of independent motor-unit pools, `pools` per channel of a [T, C].

    MUAP events: Bernoulli per sample with rate ~ a, amplitude ~ sqrt(a), random polarity (units
    on either side of the differential pair), plus Gaussian background ~ a (the incoherent sum of
    many distant units). Variance per sample is a^2 at full rate (`muap_gain` normalises the
    events' share to _MUAP_POWER_FRACTION); shaping by a unit-energy wavelet keeps that power.

    Returns:
      float32 [T, pools * C]: column p * C + c is pool p of channel c (all at activation a[:, c]).
    """
    num_samples, num_channels = a.shape
    shape = (num_samples, pools, num_channels)
    # Probabilities above 1 (a > fs / rate) fire on every sample, as u < 1 always.
    event_prob = (np.float32(_MAX_EVENT_RATE_HZ / fs) * a)[:, None, :]
    fires = np.flatnonzero(rng.random(shape, dtype=np.float32) < event_prob)
    del event_prob
    mean_jitter_sq = np.exp(2 * _MUAP_AMPLITUDE_LOG_SIGMA**2)
    muap_gain = np.sqrt(_MUAP_POWER_FRACTION / (min(_MAX_EVENT_RATE_HZ / fs, 1.0) * mean_jitter_sq))
    jitter = np.exp(_MUAP_AMPLITUDE_LOG_SIGMA * rng.standard_normal(fires.size, dtype=np.float32))
    polarity = 2 * rng.integers(0, 2, fires.size, dtype=np.int8).astype(np.float32) - 1
    drive = rng.standard_normal(shape, dtype=np.float32)
    drive *= (np.float32(np.sqrt(1.0 - _MUAP_POWER_FRACTION)) * a)[:, None, :]
    event_activation = a.reshape(-1)[fires // (pools * num_channels) * num_channels + fires % num_channels]
    drive.reshape(-1)[fires] += np.float32(muap_gain) * polarity * jitter * np.sqrt(event_activation)
    return drive.reshape(num_samples, pools * num_channels)


def _emg_band_sos(fs: float) -> np.ndarray:
    """Second-order sections of the synthetic EMG band: 20-450 Hz, capped at 0.9 x Nyquist."""
    low, high = _EMG_BAND_HZ
    high = min(high, 0.45 * fs)
    if high <= low:
        raise ValueError(f"fs = {fs} Hz is too low for a {low} Hz high-pass edge")
    return scipy.signal.butter(_BAND_ORDER, [low, high], btype="bandpass", fs=fs, output="sos")


def _muap_wavelets(rng: np.random.Generator, num_channels: int, fs: float) -> np.ndarray:
    """Biphasic MUAPs, one per channel: first derivative of a Gaussian, sigma 1.2-2.4 ms.

    Returns float64 [L, C], each column with unit energy. Below ~1 kHz the wavelet is narrower
    than a sample, so sigma is held at >= 0.6 samples (it then acts as a plain differentiator,
    and the band-pass does the shaping).
    """
    sigma = np.maximum(rng.uniform(1.2e-3, 2.4e-3, num_channels) * fs, 0.6)  # samples
    half = int(np.ceil(4 * sigma.max()))
    n = np.arange(-half, half + 1, dtype=np.float64)[:, None]
    wavelet = -n / sigma * np.exp(-0.5 * (n / sigma) ** 2)
    return wavelet / np.sqrt(np.sum(wavelet**2, axis=0))


def _impulse_response(sos: np.ndarray, length: int) -> np.ndarray:
    impulse = np.zeros(length)
    impulse[0] = 1.0
    return scipy.signal.sosfilt(sos, impulse)

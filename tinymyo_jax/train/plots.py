"""PNG of a validation window: original vs reconstruction, masked patches shaded."""

from __future__ import annotations

import io

import numpy as np

from tinymyo_jax import storage


def plot_reconstruction(
    original: np.ndarray,
    reconstruction: np.ndarray,
    sample_mask: np.ndarray,
    path: storage.PathLike,
    *,
    title: str,
    channel_mask: np.ndarray | None = None,
    max_channels: int = 4,
    fs: float = 2000.0,
) -> storage.PathLike:
    """original, reconstruction, sample_mask: (C, T) for one window (normalised units)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    channels = np.arange(original.shape[0]) if channel_mask is None else np.flatnonzero(channel_mask)
    channels = channels[:max_channels]
    time_ms = np.arange(original.shape[1]) / fs * 1e3
    fig, axes = plt.subplots(len(channels), 1, figsize=(10, 1.8 * len(channels)), sharex=True, squeeze=False)
    for ax, c in zip(axes[:, 0], channels):
        masked = sample_mask[c].astype(bool)
        # shade each run of masked samples (whole patches)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], masked.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2]):
            ax.axvspan(time_ms[start], time_ms[min(stop, len(time_ms) - 1)], color="0.88", lw=0)
        ax.plot(time_ms, original[c], color="black", lw=0.8, label="input")
        ax.plot(time_ms, reconstruction[c], color="tab:red", lw=0.8, label="reconstruction")
        ax.set_ylabel(f"ch {c}")
        ax.set_ylim(-1.3, 1.3)
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=2)
    axes[0, 0].set_title(title + "   (grey: masked patches)")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, dpi=90, format="png")
    plt.close(fig)
    storage.write_bytes(path, png.getvalue())
    return path

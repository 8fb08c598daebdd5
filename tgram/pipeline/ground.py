"""Trajectories in ground terms: platform motion removed, velocities smoothed over a window.

The image position of a parked car moves with the platform (jitter, drift), so speeds taken
from image positions report parking lots at a metre a second. Each frame's cumulative
platform shift (`offsets`, from `track.registration`) maps image pixels to the stabilised
grid of the video's first frame, which is also the grid the meta's geotransform describes.
Velocities are the least-squares slope of a track's stabilised centre over a centred window
of SPEED_WINDOW_S seconds (cut at the track's ends): a stride-4 detector places a centre to
about a pixel, which read frame to frame would be ~10 m/s of noise at 1 m/px and 10 fps. On
`make demo`'s archive (shipped weights, bench_motion) parked cars read 0.52 / 0.41 / 0.31 m/s
(median) with 2 / 3 / 4 s windows and moving cars' errors were 0.40 / 0.32 / 0.32 m/s; with the
true platform shifts instead of the estimated ones 0.49 / 0.39 / 0.29: the detector's centre
noise, not the registration, is what is left. Vehicles rarely change speed much within 4 s.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

SPEED_WINDOW_S = 4.0
"""Width of the centred window the velocity is fitted over, seconds."""


def cumulative_offsets(shifts: np.ndarray) -> np.ndarray:
    """[F, 2] per-frame platform shifts (each against the previous frame, frame 0's ignored)
    -> [F, 2] where frame 0's ground sits in each frame's image."""
    shifts = np.asarray(shifts, dtype=np.float64).reshape(-1, 2).copy()
    if len(shifts):
        shifts[0] = 0.0
    return np.cumsum(shifts, axis=0)


def stabilise(frame: np.ndarray, xy: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """[N, 2] image points of frames `frame` -> the stabilised grid of frame 0."""
    frame = np.asarray(frame, dtype=np.int64)
    if len(frame) and (frame.min() < 0 or frame.max() >= len(offsets)):
        raise ValueError(
            f"stabilise: frames {frame.min()}..{frame.max()} outside the {len(offsets)} offsets"
        )
    return np.asarray(xy, dtype=np.float64) - offsets[frame]


def windowed_velocity(
    track_id: np.ndarray, frame: np.ndarray, xy: np.ndarray, half_window: int
) -> np.ndarray:
    """[N, 2] px/frame: per row, the least-squares slope of its track's points within
    `half_window` frames of it (rows in any order; NaN for a track seen in one frame)."""
    track_id = np.asarray(track_id, dtype=np.int64)
    frame = np.asarray(frame, dtype=np.int64)
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    out = np.full((len(frame), 2), np.nan)
    if not len(frame):
        return out
    order = np.lexsort((frame, track_id))
    tid, t, p = track_id[order], frame[order].astype(np.float64), xy[order]
    # A key that sorts by track, then frame, with windows never crossing tracks.
    span = int(frame.max() - frame.min()) + 2 * half_window + 2
    key = (tid - tid.min()) * span + (frame[order] - frame.min())
    lo = np.searchsorted(key, key - half_window, side="left")
    hi = np.searchsorted(key, key + half_window, side="right")

    def window_sum(values: np.ndarray) -> np.ndarray:
        c = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
        return c[hi] - c[lo]

    t_rel = t - t.mean()  # conditioning: frames can be tens of thousands
    n = (hi - lo).astype(np.float64)
    st, stt = window_sum(t_rel), window_sum(t_rel**2)
    sp, stp = window_sum(p), window_sum(t_rel[:, None] * p)
    denominator = n * stt - st**2
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (n[:, None] * stp - st[:, None] * sp) / denominator[:, None]
    slope[denominator <= 1e-9] = np.nan
    out[order] = slope
    return out


def ground_table(vid: str, stitched: pa.Table, offsets: np.ndarray, fps: float) -> pa.Table:
    """A video's trajectory rows before georeferencing: the image boxes as tracked
    (`stitched`: frame, track_id, class, x1, y1, x2, y2, score), their stabilised top-left
    corners, and velocities fitted to the stabilised centres."""
    frame = stitched["frame"].to_numpy()
    x1, y1 = stitched["x1"].to_numpy(), stitched["y1"].to_numpy()
    w, h = stitched["x2"].to_numpy() - x1, stitched["y2"].to_numpy() - y1
    corner = stabilise(frame, np.stack([x1, y1], axis=1), offsets)
    velocity = windowed_velocity(
        stitched["track_id"].to_numpy(),
        frame,
        corner + np.stack([w, h], axis=1) / 2,
        half_window=round(SPEED_WINDOW_S * fps / 2),
    )
    return pa.table(
        {
            "video_id": pa.array([vid] * stitched.num_rows, pa.string()),
            "frame": stitched["frame"].cast(pa.int32()),
            "track_id": stitched["track_id"].cast(pa.int64()),
            "class": stitched["class"],
            "x": x1,
            "y": y1,
            "w": w,
            "h": h,
            "score": stitched["score"],
            # null, not NaN, where a track was seen once: SQL aggregates skip nulls
            "vx": pa.array(velocity[:, 0].astype(np.float32), mask=np.isnan(velocity[:, 0])),
            "vy": pa.array(velocity[:, 1].astype(np.float32), mask=np.isnan(velocity[:, 1])),
            "x_stab": corner[:, 0].astype(np.float32),
            "y_stab": corner[:, 1].astype(np.float32),
        }
    )

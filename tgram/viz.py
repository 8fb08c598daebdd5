"""Demo video (boxes, ids, fading trails) and a trajectory plot, drawn with OpenCV.

Inputs are MOTChallenge result rows (formats.RESULT_DTYPE, 0-based frames), so any tracker's
output file can be rendered, not only ours. Frames are streamed, never held all at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from tgram import storage
from tgram.data.video import VideoWriter, probe, read_frames


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable, saturated RGB colour per id (golden-ratio hue steps keep neighbours apart)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 179)
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _centres(rows: np.ndarray) -> np.ndarray:
    return np.stack([rows["x"] + rows["w"] / 2, rows["y"] + rows["h"] / 2], axis=1)


def draw_frame(
    frame: np.ndarray, rows: np.ndarray, frame_index: int, *, trail_frames: int
) -> np.ndarray:
    """Boxes and ids of `frame_index`, trails of the previous `trail_frames` frames fading out."""
    out = frame.copy()
    trails = rows[(rows["frame"] > frame_index - trail_frames) & (rows["frame"] <= frame_index)]
    overlay = out.copy()
    for track_id in np.unique(trails["id"]):
        t = trails[trails["id"] == track_id]
        t = t[np.argsort(t["frame"])]
        pts = _centres(t).round().astype(np.int32)
        colour = track_colour(int(track_id))
        for k in range(1, len(pts)):
            age = (frame_index - t["frame"][k]) / max(trail_frames, 1)
            layer = overlay if age > 0.5 else out  # older half drawn on the blended layer: fades
            cv2.line(layer, tuple(pts[k - 1]), tuple(pts[k]), colour, 1, cv2.LINE_AA)
    out = cv2.addWeighted(overlay, 0.45, out, 0.55, 0)
    for r in rows[rows["frame"] == frame_index]:
        colour = track_colour(int(r["id"]))
        x1, y1 = int(r["x"]) - 1, int(r["y"]) - 1  # padded so 4x8 px objects stay visible
        x2, y2 = int(r["x"] + r["w"]) + 1, int(r["y"] + r["h"]) + 1
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 1)
        label = str(int(r["id"]))
        org = (x1, max(y1 - 2, 8))
        cv2.putText(out, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(out, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.3, colour, 1, cv2.LINE_AA)
    return out


def render_demo_video(
    video_uri: str,
    rows: np.ndarray,
    out_uri: str,
    *,
    trail_s: float = 3.0,
    max_frames: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> str:
    """H.264 mp4 of `video_uri` with the tracks in `rows` drawn on it."""
    info = probe(video_uri)
    end = info.frames if max_frames is None else min(info.frames, max_frames)
    trail_frames = max(1, round(trail_s * info.fps))
    width, height = (
        info.width - info.width % 2,
        info.height - info.height % 2,
    )  # H.264 needs even sizes
    with VideoWriter(out_uri, fps=info.fps, width=width, height=height) as writer:
        for index, frame in read_frames(video_uri, 0, end):
            writer.write(draw_frame(frame, rows, index, trail_frames=trail_frames)[:height, :width])
            if progress is not None:
                progress(1)
    return out_uri


def plot_trajectories(video_uri: str, rows: np.ndarray, out_png: str | Path) -> str:
    """All trajectories as polylines over the dimmed first frame, a dot where each starts."""
    _, first = next(read_frames(video_uri, 0, 1))
    canvas = (first.astype(np.float32) * 0.5).astype(np.uint8)
    for track_id in np.unique(rows["id"]):
        t = rows[rows["id"] == track_id]
        pts = _centres(t[np.argsort(t["frame"])]).round().astype(np.int32)
        colour = track_colour(int(track_id))
        cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, colour, 1, cv2.LINE_AA)
        cv2.circle(canvas, tuple(pts[0]), 2, colour, -1)
    ok, png = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"{out_png}: could not encode PNG")
    storage.write_bytes(str(out_png), png.tobytes())
    return str(out_png)


def plot_speed_histogram(speeds_mps: np.ndarray, out_png: str | Path, *, bins: int = 30) -> str:
    """Histogram of speeds (m/s) as a PNG: bars with the count axis and speed ticks labelled."""
    speeds = np.asarray(speeds_mps, np.float64)
    speeds = speeds[np.isfinite(speeds)]
    if len(speeds) == 0:
        raise ValueError(f"{out_png}: no speeds to plot (the video has no georeference or no rows)")
    counts, edges = np.histogram(speeds, bins=bins)
    width, height, margin = 640, 360, 40
    canvas = np.full((height, width, 3), 255, np.uint8)
    plot_w, plot_h = width - 2 * margin, height - 2 * margin
    bar_w = plot_w / len(counts)
    for k, count in enumerate(counts):
        top = height - margin - int(round(plot_h * count / max(counts.max(), 1)))
        x1, x2 = margin + int(k * bar_w), margin + int((k + 1) * bar_w) - 1
        cv2.rectangle(canvas, (x1, top), (x2, height - margin), (70, 110, 200), -1)
    cv2.line(canvas, (margin, height - margin), (width - margin, height - margin), (0, 0, 0), 1)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k in range(0, len(edges), max(1, len(edges) // 6)):
        x = margin + int(k * bar_w)
        cv2.putText(
            canvas,
            f"{edges[k]:.0f}",
            (x - 8, height - margin + 15),
            font,
            0.4,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    cv2.putText(
        canvas, "speed (m/s)", (width // 2 - 40, height - 8), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA
    )
    cv2.putText(
        canvas,
        f"rows per bin (max {counts.max()})",
        (margin, margin - 12),
        font,
        0.45,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    ok, png = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"{out_png}: could not encode PNG")
    storage.write_bytes(str(out_png), png.tobytes())
    return str(out_png)

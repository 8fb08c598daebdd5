from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tgram.data.formats import RESULT_DTYPE
from tgram.data.video import VideoWriter, probe, read_frames
from tgram.viz import plot_trajectories, render_demo_video


def test_demo_video_draws_boxes_and_trails(tmp_path: Path) -> None:
    video = str(tmp_path / "in.mp4")
    with VideoWriter(video, fps=10, width=160, height=96) as w:
        for _ in range(12):
            w.write(np.full((96, 160, 3), 60, np.uint8))
    rows = np.zeros(12, RESULT_DTYPE)
    rows["frame"], rows["id"] = np.arange(12), 3
    rows["x"], rows["y"], rows["w"], rows["h"] = 10 + 8 * np.arange(12), 40, 4, 8
    out = render_demo_video(video, rows, str(tmp_path / "demo.mp4"), trail_s=1.0)
    assert probe(out).frames == 12
    frames = dict(read_frames(out))
    last = frames[11].astype(int)
    box_edge = np.abs(last[38:50, 97] - 60).max()
    assert box_edge > 40  # the box's left edge is drawn
    trail = np.abs(last[44, 60:90] - 60).max()  # the centre path of earlier frames
    assert trail > 20
    assert np.abs(last[5:20, 5:40] - 60).max() < 8  # far from the track: unchanged
    png = plot_trajectories(video, rows, tmp_path / "t.png")
    image = cv2.imread(png)
    assert image.shape == (96, 160, 3) and image.std() > 1

"""tgram from Python: load the model, track a video into a table, read a batch output.

The functions a notebook needs, each a thin layer over the library the CLI and the Ray jobs
use (`inference`, `pipeline.trajectories`), so results are the same as `tgram track` and
`tgram batch` give. Tables are pandas DataFrames; `to_xyxy` turns one frame's rows into the
arrays `supervision.Detections` and ByteTrack-style trackers take.

>>> import tgram
>>> tgram.load_tracker_config().det_threshold
0.35
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tgram.resources import CONFIGS, SHIPPED_WEIGHTS

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from tgram.inference import Detector
    from tgram.model.config import Runtime
    from tgram.track.tracker import TrackerConfig

TRACKER_CONFIG = CONFIGS / "track" / "default.yaml"
"""The tracker settings `tgram track` and `tgram batch` read by default."""


def weights_uri(weights: str | Path | None = None) -> str:
    """The weights file to load: `weights`, or the shipped model when None (the one place
    that default is resolved: `tgram track`, `tgram batch`, calibrate and the demo call it)."""
    return str(weights or SHIPPED_WEIGHTS)


def load_tracker_config(path: str | Path | None = None) -> TrackerConfig:
    """Tracker settings from a YAML file (default: the shipped `configs/track/default.yaml`)."""
    from tgram.config import load_config
    from tgram.track.tracker import TrackerConfig

    return load_config(path or TRACKER_CONFIG, TrackerConfig)


def load_detector(
    weights: str | Path | None = None,
    tracker: TrackerConfig | None = None,
    *,
    device: torch.device | str | None = None,
    runtime: Runtime = "auto",
) -> Detector:
    """The network of a weights file (local or s3://; default: the shipped weights), keeping
    detections from the lowest score the tracker uses (`score_floor`), as `tgram track` does;
    `runtime` (tgram.model.config.Runtime): auto is ONNX Runtime on CPU, eager PyTorch on GPU."""
    import torch

    from tgram.inference import Detector

    tracker = tracker or load_tracker_config()
    return Detector.from_weights(
        weights_uri(weights),
        device=None if device is None else torch.device(device),
        score_threshold=tracker.score_floor,
        runtime=runtime,
    )


def track_video(
    video: str | Path,
    *,
    weights: str | Path | None = None,
    tracker: TrackerConfig | None = None,
    detector: Detector | None = None,
    start: int = 0,
    end: int | None = None,
) -> pd.DataFrame:
    """Track frames [start, end) of a video file or an image-sequence folder (local or s3://):
    one row per track and frame with TRACK_COLUMNS (0-based frames, top-left x, y and size in
    pixels, velocity in px/frame). Pass `detector` to reuse a loaded model. (Not named
    `tgram.track`: that is the tracker package.)

    >>> rows = tgram.track_video("archive/videos/synth_0000.mp4", end=20)  # doctest: +SKIP
    >>> rows.groupby("class").track_id.nunique()  # doctest: +SKIP
    """
    from tgram.inference import track_video as track_rows

    tracker = tracker or load_tracker_config()
    detector = detector or load_detector(weights, tracker)
    rows = track_rows(str(video), detector, tracker, start=start, end=end)
    return rows.to_pandas(detector.class_names)


def to_xyxy(frame_rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """One frame's rows as `supervision.Detections` fields: xyxy [N, 4] float32,
    confidence [N], class_id [N] (index into the model's classes), tracker_id [N]
    (`supervision.Detections(**tgram.to_xyxy(rows[rows.frame == 7]))`).

    >>> import pandas as pd
    >>> row = pd.DataFrame({"x": [10.0], "y": [20.0], "w": [4.0], "h": [8.0], "score": [0.9],
    ...                     "class": pd.Categorical(["vehicle"], categories=["airplane", "ship", "vehicle"]),
    ...                     "track_id": [3]})
    >>> {k: v.tolist() for k, v in tgram.to_xyxy(row).items()}
    {'xyxy': [[10.0, 20.0, 14.0, 28.0]], 'confidence': [0.8999999761581421], 'class_id': [2], 'tracker_id': [3]}
    """
    x, y = frame_rows["x"].to_numpy(np.float32), frame_rows["y"].to_numpy(np.float32)
    w, h = frame_rows["w"].to_numpy(np.float32), frame_rows["h"].to_numpy(np.float32)
    return {
        "xyxy": np.stack([x, y, x + w, y + h], axis=1).reshape(-1, 4),
        "confidence": frame_rows["score"].to_numpy(np.float32),
        "class_id": np.asarray(frame_rows["class"].cat.codes, np.int64),
        "tracker_id": frame_rows["track_id"].to_numpy(np.int64),
    }


def read_trajectories(output: str | Path, video_ids: list[str] | None = None) -> pd.DataFrame:
    """The committed rows of a `tgram batch` output (local or s3://), sorted by video, frame
    and track; the trajectory Parquet contract's columns (docs/ARCHITECTURE.md)."""
    from tgram.pipeline.trajectories import read_trajectories as read

    return read(str(output), video_ids).to_pandas()

"""tgram: TGraM multi-object tracking for satellite video, at archive scale on Ray.

From Python (`tgram.api`; the CLI and the Ray jobs run the same library):

    import tgram
    rows = tgram.track_video("archive/videos/synth_0000.mp4")      # a pandas DataFrame
    table = tgram.read_trajectories("s3://bucket/trajectories")
"""

__version__ = "0.1.0"

from tgram.api import (  # noqa: E402 - after __version__, which modules importing tgram read
    load_detector,
    load_tracker_config,
    read_trajectories,
    to_xyxy,
    track_video,
)
from tgram.data.tracks import TRACK_COLUMNS  # noqa: E402

__all__ = [
    "TRACK_COLUMNS",
    "__version__",
    "load_detector",
    "load_tracker_config",
    "read_trajectories",
    "to_xyxy",
    "track_video",
]

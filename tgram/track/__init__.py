"""Online multi-object tracking: Kalman motion model, association costs, the tracker."""

from tgram.track.tracker import IdCounter, OnlineTracker, TrackerConfig, Tracks, TrackState

__all__ = ["IdCounter", "OnlineTracker", "TrackState", "TrackerConfig", "Tracks"]

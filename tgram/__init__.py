"""tgram: TGraM multi-object tracking for satellite video, at archive scale on Ray."""

__version__ = "0.1.0"

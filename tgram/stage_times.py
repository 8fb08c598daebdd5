"""Where a run's time went, per stage: the summary line of `tgram track` and `tgram batch`."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class StageTimes:
    """Seconds a run spent per stage, for the summary line: where to look when it is slow."""

    decode: float = 0.0
    """Reading and decoding frames."""
    model: float = 0.0
    """The network and peak decoding (Detector calls)."""
    registration: float = 0.0
    """Platform motion estimation."""
    association: float = 0.0
    """The tracker."""

    def add(self, other: StageTimes) -> None:
        for name, seconds in asdict(other).items():
            setattr(self, name, getattr(self, name) + seconds)

    @property
    def total(self) -> float:
        return sum(asdict(self).values())

    def shares(self) -> str:
        """ "decode 12%, model 70%, registration 5%, association 13%" of their total."""
        total = self.total or 1.0
        return ", ".join(f"{name} {s / total:.0%}" for name, s in asdict(self).items())

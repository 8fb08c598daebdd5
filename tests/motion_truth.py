"""Checks of a synthetic video's motion truth against its gt, shared by both renderers' tests.

The truth (meta `platform_shift_px`, speeds/<id>.csv) is checked only through the gt boxes,
so that a sign or unit slip in either shows: a box centre minus the frame's platform shift
is where the object lies on the static ground (frame 0's image coordinates), which must
stand still for parked objects and move as the speed truth says for the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPEED_ROUNDING = 0.0005
"""m/s: the speed file keeps 3 decimals."""
GT_ROUNDING_PX = 0.005 + 0.0025 + 0.0005
"""How far a gt box centre minus the shift can be off from rounding alone: x and y keep 2
decimals, w/2 and h/2 half of that, the shift 3 decimals."""


@dataclass(frozen=True)
class Checked:
    parked: int
    """Parked objects whose ground position was seen in at least two frames."""
    spans: int
    """Frame spans over which a moving object's displacement was compared with its speeds."""


def check_motion_truth(
    gt: np.ndarray,
    speeds: np.ndarray,
    meta: dict[str, object],
    position_error_px: float,
) -> Checked:
    """Assert that the truth agrees with `gt`; `position_error_px` bounds how far a gt box
    centre can be from the object's true position beyond a constant offset."""
    shift = np.asarray(meta["platform_shift_px"], np.float64)
    assert shift.shape == (meta["frames"], 2)
    assert shift[0].tolist() == [0.0, 0.0]
    assert np.array_equal(speeds["frame"], gt["frame"]) and np.array_equal(speeds["id"], gt["id"])
    width, height = int(meta["width"]), int(meta["height"])  # type: ignore[call-overload]
    ground = np.stack([gt["x"] + gt["w"] / 2, gt["y"] + gt["h"] / 2], axis=1) - shift[gt["frame"]]
    whole = (
        (gt["x"] > 0)
        & (gt["y"] > 0)
        & (gt["x"] + gt["w"] < width)
        & (gt["y"] + gt["h"] < height)
        & (gt["visibility"] >= 1)
    )
    m_per_px_frame = float(meta["gsd_m"]) * float(meta["fps"])  # type: ignore[arg-type]
    parked = spans = 0
    for object_id in np.unique(gt["id"]):
        mine = gt["id"] == object_id
        rows = np.flatnonzero(mine & whole)
        if (speeds["speed_mps"][mine] == 0).all():
            if len(rows) > 1:
                # parked: its ground position stands still, up to the gt's rounding (2 x
                # GT_ROUNDING_PX, and float32)
                assert np.ptp(ground[rows], axis=0).max() <= 0.02, object_id
                parked += 1
            continue
        for run in np.split(rows, np.flatnonzero(np.diff(gt["frame"][rows]) != 1) + 1):
            spans += _check_run(run, ground, speeds, m_per_px_frame, position_error_px)
    return Checked(parked, spans)


def _check_run(
    run: np.ndarray,
    ground: np.ndarray,
    speeds: np.ndarray,
    m_per_px_frame: float,
    position_error_px: float,
) -> int:
    """Over consecutive frames a..a+2k, the displacement is exactly twice the sum of the
    central differences at a+1, a+3, ..., so compare those: every 2-frame span, and the
    longest from the run's start (whose box errors weigh least)."""
    n, checked = len(run), 0
    velocity = np.stack([speeds["vx_mps"], speeds["vy_mps"]], axis=1).astype(np.float64)
    for a, b in [(a, a + 2) for a in range(n - 2)] + [(0, 2 * ((n - 1) // 2))]:
        if b < 2:
            continue
        k = (b - a) // 2
        measured = (ground[run[b]] - ground[run[a]]) / (2 * k) * m_per_px_frame
        truth = velocity[run[a + 1 : b : 2]].mean(axis=0)
        tolerance = 2 * position_error_px / (2 * k) * m_per_px_frame + SPEED_ROUNDING
        assert np.abs(measured - truth).max() <= tolerance, (
            f"frames {a}..{b} of a run: {measured} m/s from the boxes, truth {truth} m/s"
        )
        checked += 1
    return checked

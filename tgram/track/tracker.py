"""Online JDE/FairMOT-style multi-object tracker with the state of all tracks in arrays.

One `update` per frame runs FairMOT's association (embedding + motion, then IoU, then
unconfirmed tracks) as a handful of vectorised steps over every track at once, so a
5,000-object satellite frame costs matrix operations, not a Python loop per track. The
tracker sees plain arrays only: no model, tensor or config file.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from tgram.geometry import Pairs, iou_matrix, linear_assignment, neighbour_pairs, unit_rows
from tgram.track.kalman import STATE_DIM, KalmanFilter, xyah_to_xyxy, xyxy_to_xyah
from tgram.track.matching import GATE_95, class_gate, embedding_distance, fuse_motion
from tgram.track.registration import RegistrationConfig

_Assignment = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(matched (track row, detection) pairs [K, 2], unmatched track rows, unmatched detections)."""

UNASSIGNED_ID = 0
"""Track id of tentative tracks: ids are handed out on confirmation, so output ids have no gaps."""


class TrackState(enum.IntEnum):
    """Lifecycle of a track."""

    TENTATIVE = 0
    """Born from one detection; confirmed by a match in the next frame, else removed."""
    TRACKED = 1
    """Matched this frame; the only state that is output."""
    LOST = 2
    """Unmatched, kept (and predicted) for the lost-track buffer so it can be re-found."""
    REMOVED = 3
    """Dropped at the end of the frame."""


@dataclass(frozen=True)
class TrackerConfig:
    """Association settings. Costs are distances: a pair matches when below its threshold."""

    det_threshold: float = 0.35
    """Detections scoring below this are ignored (FairMOT's conf_thres). Raising it trades
    recall for fewer false tracks. 0.35 / 0.4 / 0.2 with min_track_score 0.44 were chosen for
    the shipped weights by `tgram calibrate` over the three validation archives at once
    (val_v3, val_turned, val_shift; centre matching): scores fall on imagery unlike the
    training data, and val_v3 alone chose 0.5 / 0.5, which halves IDF1 on the shifted
    archives; the track filter then removes what the low thresholds let in. Other weights or
    imagery: calibrate them."""
    low_det_threshold: float = 0.2
    """ByteTrack's second association: detections scoring in [low_det_threshold,
    det_threshold) continue tracked tracks that no confident detection matched (IoU >=
    iou_match_threshold) and never start one. At or above det_threshold: off. Tiny moving
    cars score lower than parked ones (median 0.40 against 0.55 on validation, stage-3
    weights), so their tracks break where one frame dips. 0.2: see det_threshold."""
    new_track_threshold: float = 0.4
    """Minimum score to start a track from an unmatched detection. ByteTrack keeps a 0.1
    margin above det_threshold, so a flickering borderline detection continues tracks but does
    not start them; `tgram calibrate` chose 0.05 for the shipped weights. Raising it
    suppresses spurious tracks and delays real ones."""
    embedding_match_threshold: float = 0.4
    """Maximum fused appearance + motion cost (cosine distance) for a stage-1 match
    (FairMOT's value). Raising it re-finds more objects across appearance changes and risks
    id switches between lookalikes."""
    iou_match_threshold: float = 0.5
    """Minimum IoU for stage 2 (tracked tracks whose appearance did not match). Raising it
    makes the motion-only fallback stricter."""
    unconfirmed_match_threshold: float = 0.3
    """Minimum IoU for confirming a tentative track in the next frame (FairMOT's distance
    0.7). Raising it drops more one-frame detections, including those of fast objects."""
    motion_weight: float = 0.02
    """Weight of the Mahalanobis distance in the stage-1 cost, JDE's 1 - lambda. Raising it
    lets motion override appearance."""
    embedding_momentum: float = 0.9
    """EMA momentum of a track's appearance (JDE). Raising it makes the appearance model
    slower to adapt and more robust to a single bad embedding."""
    track_buffer_s: float = 1.0
    """Seconds a lost track is kept for re-identification (FairMOT's 30 frames at 30 fps),
    converted with the video's fps. Raising it bridges longer occlusions, with more chances
    of a wrong re-match."""
    min_box_area: float = 0.0
    """Tracks smaller than this (px^2) are not output. Off by default: satellite vehicles are
    about 32 px^2."""
    min_track_score: float = 0.44
    """Tracks whose mean detection score over the video is below this are left out of its
    output (0: every track is kept). The one offline step: applied to a video's rows once they
    are all there (under clip association, after stitching), so `OnlineTracker.update` itself
    never drops a track for it. A false track beside a parked car holds mid scores for its whole
    life, where a real car's dip for a frame or two; a track's mean is a steadier signal than
    one detection's score, so it separates them better than a higher det_threshold (validation:
    `weights/README.md`, "Tracker thresholds")."""
    duplicate_iou: float = 0.85
    """IoU above which a tracked and a lost track of the same class are duplicates; the
    younger one is removed (FairMOT's 0.15 distance). Raising it removes fewer."""
    motion: KalmanFilter = field(default_factory=KalmanFilter)
    """Kalman noise model, including the std floor for tiny boxes."""
    registration: RegistrationConfig = field(default_factory=RegistrationConfig)
    """How the frames' platform motion is estimated for `update(shift=...)` (by the code that
    reads the frames: the tracker itself sees arrays only)."""

    def __post_init__(self) -> None:
        unit_interval = (
            "det_threshold",
            "new_track_threshold",
            "iou_match_threshold",
            "unconfirmed_match_threshold",
            "motion_weight",
            "min_track_score",
        )
        for name in unit_interval:
            _check_range(name, getattr(self, name), 0.0, 1.0)
        _check_range("low_det_threshold", self.low_det_threshold, 0.0, 1.0)
        _check_range("duplicate_iou", self.duplicate_iou, 0.0, 1.0, low_open=True)
        _check_range("embedding_momentum", self.embedding_momentum, 0.0, 1.0, high_open=True)
        _check_range(
            "embedding_match_threshold", self.embedding_match_threshold, 0.0, np.inf, low_open=True
        )
        _check_range("track_buffer_s", self.track_buffer_s, 0.0, np.inf)
        _check_range("min_box_area", self.min_box_area, 0.0, np.inf)
        if self.new_track_threshold < self.det_threshold:
            raise ValueError(
                f"track.new_track_threshold ({self.new_track_threshold}) must be >= "
                f"track.det_threshold ({self.det_threshold}): lower-scoring detections are already dropped"
            )

    @property
    def score_floor(self) -> float:
        """The lowest detection score this tracker uses: what a detector must keep for it."""
        return min(self.det_threshold, self.low_det_threshold)


@dataclass(frozen=True)
class Tracks:
    """Tracks output for one frame (those matched in it), sorted by id."""

    track_ids: np.ndarray  # [K] int64, >= 1, unique within a video
    boxes: np.ndarray  # [K, 4] float32 xyxy, Kalman-filtered
    scores: np.ndarray  # [K] float32, score of the matched detection
    classes: np.ndarray  # [K] int64
    velocities: np.ndarray  # [K, 2] float32 (vx, vy) of the box centre, px/frame
    embeddings: np.ndarray  # [K, E] float32, smoothed, unit length

    def __len__(self) -> int:
        return len(self.track_ids)


class IdCounter:
    """Hands out consecutive track ids; inject one to number a video's tracks from `start`."""

    def __init__(self, start: int = 1) -> None:
        if start < 1:
            raise ValueError(
                f"IdCounter: start must be >= 1 ({UNASSIGNED_ID} marks tentative tracks), got {start}"
            )
        self.start = start
        self._next = start

    def take(self, count: int) -> np.ndarray:
        ids = np.arange(self._next, self._next + count, dtype=np.int64)
        self._next += count
        return ids

    def reset(self) -> None:
        self._next = self.start


@dataclass
class _TrackTable:
    """Column arrays of all live tracks; row i of every field is track i."""

    ids: np.ndarray  # [T] int64, UNASSIGNED_ID while tentative
    states: np.ndarray  # [T] int8 TrackState
    classes: np.ndarray  # [T] int64
    scores: np.ndarray  # [T] float32
    means: np.ndarray  # [T, 8] float64 Kalman state
    covs: np.ndarray  # [T, 8, 8] float64
    embeddings: np.ndarray  # [T, E] float32
    start_frames: np.ndarray  # [T] int64, frame the track was born
    last_frames: np.ndarray  # [T] int64, frame of its last match

    @classmethod
    def empty(cls) -> _TrackTable:
        return cls(
            ids=np.zeros(0, np.int64),
            states=np.zeros(0, np.int8),
            classes=np.zeros(0, np.int64),
            scores=np.zeros(0, np.float32),
            means=np.zeros((0, STATE_DIM)),
            covs=np.zeros((0, STATE_DIM, STATE_DIM)),
            embeddings=np.zeros((0, 0), np.float32),  # size learnt from the first detections
            start_frames=np.zeros(0, np.int64),
            last_frames=np.zeros(0, np.int64),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: np.ndarray) -> _TrackTable:
        return _TrackTable(
            **{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)}
        )

    def extend(self, other: _TrackTable) -> _TrackTable:
        # An empty table may not know the embedding size yet, so it can't be concatenated.
        if len(other) == 0:
            return self
        if len(self) == 0:
            return other
        return _TrackTable(
            **{
                f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in dataclasses.fields(self)
            }
        )

    def boxes(self, index: np.ndarray) -> np.ndarray:
        return xyah_to_xyxy(self.means[index, :4])


@dataclass(frozen=True)
class _Detections:
    """Detections of one frame that the tracker uses (of positive size, in one score band)."""

    boxes: np.ndarray  # [D, 4] float64 xyxy
    xyah: np.ndarray  # [D, 4] float64
    scores: np.ndarray  # [D] float32
    classes: np.ndarray  # [D] int64
    embeddings: np.ndarray  # [D, E] float32, unit length


class OnlineTracker:
    """Tracks one video at a time; call `reset()` (or make a new tracker) per video."""

    def __init__(
        self, config: TrackerConfig, fps: float, id_counter: IdCounter | None = None
    ) -> None:
        if not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"OnlineTracker: fps must be a positive number, got {fps}")
        self.config = config
        self.fps = fps
        self.max_frames_lost = round(config.track_buffer_s * fps)
        self._kalman = config.motion
        self._ids = id_counter or IdCounter()
        self.reset()

    def reset(self) -> None:
        """Forget all tracks and restart ids, for the next video."""
        self._ids.reset()
        self._tracks = _TrackTable.empty()
        self._frame_index: int | None = None

    def update(
        self,
        boxes_xyxy: np.ndarray,
        scores: np.ndarray,
        classes: np.ndarray,
        embeddings: np.ndarray,
        frame_index: int,
        shift: np.ndarray | None = None,
    ) -> Tracks:
        """Associate one frame's detections ([N, 4], [N], [N], [N, E]) with the tracks.

        `frame_index` must increase; a gap of k frames predicts the tracks k steps.
        `shift` (dx, dy): how far static ground moved in the image since the previous update
        (platform motion, `registration.PlatformMotion`). It moves every track before the
        prediction (global motion compensation, as BoT-SORT's), so the Kalman velocities and
        the association gates are in ground terms; None means no platform motion.
        """
        dets, low = self._usable_detections(boxes_xyxy, scores, classes, embeddings)
        first_frame = self._frame_index is None
        if not first_frame:
            if frame_index <= self._frame_index:
                raise ValueError(
                    f"OnlineTracker.update: frame_index must increase, got {frame_index} after {self._frame_index}"
                )
            if shift is not None:
                self._compensate(shift)
            self._predict(frame_index - self._frame_index)
        self._frame_index = frame_index
        tracks = self._tracks

        pool = np.flatnonzero(
            (tracks.states == TrackState.TRACKED) | (tracks.states == TrackState.LOST)
        )
        stage1, pool_left, dets_left = self._match_appearance(pool, dets)
        was_tracked = pool_left[tracks.states[pool_left] == TrackState.TRACKED]
        stage2, now_lost, dets_left = self._match_iou(
            was_tracked, dets_left, dets, self.config.iou_match_threshold
        )
        stage_low, now_lost, _ = self._match_iou(
            now_lost, np.arange(len(low.scores)), low, self.config.iou_match_threshold
        )
        tentative = np.flatnonzero(tracks.states == TrackState.TENTATIVE)
        stage3, unconfirmed, dets_left = self._match_iou(
            tentative, dets_left, dets, self.config.unconfirmed_match_threshold
        )

        self._apply_matches(np.concatenate([stage1, stage2, stage3]), dets, frame_index)
        self._apply_matches(stage_low, low, frame_index)
        tracks.states[now_lost] = TrackState.LOST
        tracks.states[unconfirmed] = TrackState.REMOVED
        expired = (tracks.states == TrackState.LOST) & (
            frame_index - tracks.last_frames > self.max_frames_lost
        )
        tracks.states[expired] = TrackState.REMOVED
        births = dets_left[dets.scores[dets_left] >= self.config.new_track_threshold]
        self._tracks = tracks.extend(self._born(dets, births, frame_index, confirmed=first_frame))
        self._remove_duplicates()
        self._tracks = self._tracks.take(np.flatnonzero(self._tracks.states != TrackState.REMOVED))
        return self._output()

    def _usable_detections(
        self, boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, embeddings: np.ndarray
    ) -> tuple[_Detections, _Detections]:
        """(detections >= det_threshold, detections in [low_det_threshold, det_threshold)),
        both of positive size."""
        boxes = np.asarray(boxes, dtype=np.float64)
        scores = np.asarray(scores, dtype=np.float32)
        classes = np.asarray(classes, dtype=np.int64)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        count = len(boxes)
        if boxes.shape != (count, 4) or scores.shape != (count,) or classes.shape != (count,):
            raise ValueError(
                f"OnlineTracker.update: expected boxes [N, 4], scores [N], classes [N]; got "
                f"{boxes.shape}, {scores.shape}, {classes.shape}"
            )
        if embeddings.ndim != 2 or len(embeddings) != count:
            raise ValueError(
                f"OnlineTracker.update: expected embeddings [{count}, E], got {embeddings.shape}"
            )
        if not (
            np.isfinite(boxes).all() and np.isfinite(scores).all() and np.isfinite(embeddings).all()
        ):
            raise ValueError("OnlineTracker.update: boxes, scores and embeddings must be finite")
        tracked_dim = self._tracks.embeddings.shape[1]
        if count and len(self._tracks) and embeddings.shape[1] != tracked_dim:
            raise ValueError(
                f"OnlineTracker.update: embeddings have {embeddings.shape[1]} dims, the tracks {tracked_dim}"
            )
        # A box without area has no aspect ratio, so the Kalman filter cannot take it.
        sized = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        confident = sized & (scores >= self.config.det_threshold)
        low = sized & ~confident & (scores >= self.config.low_det_threshold)

        def select(mask: np.ndarray) -> _Detections:
            return _Detections(
                boxes=boxes[mask],
                xyah=xyxy_to_xyah(boxes[mask]),
                scores=scores[mask],
                classes=classes[mask],
                embeddings=unit_rows(embeddings[mask]),
            )

        return select(confident), select(low)

    def _compensate(self, shift: np.ndarray) -> None:
        shift = np.asarray(shift, dtype=np.float64)
        if shift.shape != (2,) or not np.isfinite(shift).all():
            raise ValueError(f"OnlineTracker.update: shift must be 2 finite numbers, got {shift}")
        self._tracks.means[:, :2] += shift

    def _predict(self, steps: int) -> None:
        """Predict every track `steps` frames ahead; lost tracks keep their height (JDE)."""
        tracks = self._tracks
        lost = tracks.states == TrackState.LOST
        for _ in range(steps):
            tracks.means[lost, 7] = 0.0
            tracks.means, tracks.covs = self._kalman.predict(tracks.means, tracks.covs)

    def _match_appearance(self, pool: np.ndarray, dets: _Detections) -> _Assignment:
        """Stage 1: embedding cost fused with Kalman gating, over tracked and lost tracks.

        Only pairs inside the gate's bounding square are evaluated; the rest are gated out.
        """
        tracks = self._tracks
        means, covs = tracks.means[pool], tracks.covs[pool]
        radius = self._kalman.gating_radius(means, covs, GATE_95)
        pairs = neighbour_pairs(means[:, :2], radius, dets.xyah[:, :2])
        appearance = embedding_distance(tracks.embeddings[pool], dets.embeddings, pairs)
        gating = self._kalman.gating_distance(means, covs, dets.xyah, pairs)
        cost = fuse_motion(appearance, gating, lambda_=1.0 - self.config.motion_weight)
        cost = class_gate(cost, tracks.classes[pool], dets.classes, pairs)
        return _assign(
            cost, pairs, pool, np.arange(len(dets.scores)), self.config.embedding_match_threshold
        )

    def _match_iou(
        self, track_index: np.ndarray, det_index: np.ndarray, dets: _Detections, min_iou: float
    ) -> _Assignment:
        """Stages 2 and 3: 1 - IoU between predicted track boxes and detections."""
        tracks = self._tracks
        pairs, cost = _overlap_distance(
            tracks.boxes(track_index),
            tracks.classes[track_index],
            dets.boxes[det_index],
            dets.classes[det_index],
        )
        return _assign(cost, pairs, track_index, det_index, 1.0 - min_iou)

    def _apply_matches(self, matches: np.ndarray, dets: _Detections, frame_index: int) -> None:
        """Kalman-correct matched tracks, blend their appearance, confirm tentative ones."""
        if len(matches) == 0:
            return
        tracks = self._tracks
        track_index, det_index = matches[:, 0], matches[:, 1]
        tracks.means[track_index], tracks.covs[track_index] = self._kalman.update(
            tracks.means[track_index], tracks.covs[track_index], dets.xyah[det_index]
        )
        momentum = self.config.embedding_momentum
        blended = (
            momentum * tracks.embeddings[track_index]
            + (1.0 - momentum) * dets.embeddings[det_index]
        )
        tracks.embeddings[track_index] = unit_rows(blended)
        tracks.scores[track_index] = dets.scores[det_index]
        tracks.last_frames[track_index] = frame_index
        tracks.states[track_index] = TrackState.TRACKED
        newly_confirmed = track_index[tracks.ids[track_index] == UNASSIGNED_ID]
        tracks.ids[newly_confirmed] = self._ids.take(len(newly_confirmed))

    def _born(
        self, dets: _Detections, det_index: np.ndarray, frame_index: int, *, confirmed: bool
    ) -> _TrackTable:
        """New tracks: tentative, except in the first frame, which has no earlier frame to confirm them."""
        count = len(det_index)
        means, covs = self._kalman.initiate(dets.xyah[det_index])
        return _TrackTable(
            ids=self._ids.take(count) if confirmed else np.full(count, UNASSIGNED_ID, np.int64),
            states=np.full(
                count, TrackState.TRACKED if confirmed else TrackState.TENTATIVE, np.int8
            ),
            classes=dets.classes[det_index],
            scores=dets.scores[det_index],
            means=means,
            covs=covs,
            embeddings=dets.embeddings[det_index],
            start_frames=np.full(count, frame_index, np.int64),
            last_frames=np.full(count, frame_index, np.int64),
        )

    def _remove_duplicates(self) -> None:
        """Of an active and a lost track covering the same object, keep the older (FairMOT)."""
        tracks = self._tracks
        active = np.flatnonzero(
            (tracks.states == TrackState.TRACKED) | (tracks.states == TrackState.TENTATIVE)
        )
        lost = np.flatnonzero(tracks.states == TrackState.LOST)
        (pair_active, pair_lost), distance = _overlap_distance(
            tracks.boxes(active), tracks.classes[active], tracks.boxes(lost), tracks.classes[lost]
        )
        duplicate = distance < 1.0 - self.config.duplicate_iou
        pair_active, pair_lost = active[pair_active[duplicate]], lost[pair_lost[duplicate]]
        active_is_older = tracks.start_frames[pair_active] < tracks.start_frames[pair_lost]
        tracks.states[pair_active[~active_is_older]] = TrackState.REMOVED
        tracks.states[pair_lost[active_is_older]] = TrackState.REMOVED

    def _output(self) -> Tracks:
        tracks = self._tracks
        shown = np.flatnonzero(tracks.states == TrackState.TRACKED)
        boxes = tracks.boxes(shown)
        large_enough = (boxes[:, 2] - boxes[:, 0]) * (
            boxes[:, 3] - boxes[:, 1]
        ) >= self.config.min_box_area
        shown, boxes = shown[large_enough], boxes[large_enough]
        order = np.argsort(tracks.ids[shown], kind="stable")
        shown, boxes = shown[order], boxes[order]
        return Tracks(
            track_ids=tracks.ids[shown],
            boxes=boxes.astype(np.float32),
            scores=tracks.scores[shown],
            classes=tracks.classes[shown],
            velocities=tracks.means[shown, 4:6].astype(np.float32),
            embeddings=tracks.embeddings[shown],
        )


def _overlap_distance(
    boxes_a: np.ndarray, classes_a: np.ndarray, boxes_b: np.ndarray, classes_b: np.ndarray
) -> tuple[Pairs, np.ndarray]:
    """Class-gated 1 - IoU for the box pairs that can overlap, found with a spatial index.

    Boxes overlap only if their centres are closer, per axis, than the sum of their half
    extents, so each box searches within its own half extent plus the largest one of `b`.
    """
    half_a = (boxes_a[:, 2:] - boxes_a[:, :2]).max(axis=1, initial=0.0) / 2
    half_b = (boxes_b[:, 2:] - boxes_b[:, :2]).max(axis=1, initial=0.0) / 2
    pairs = neighbour_pairs(
        (boxes_a[:, :2] + boxes_a[:, 2:]) / 2,
        half_a + half_b.max(initial=0.0),
        (boxes_b[:, :2] + boxes_b[:, 2:]) / 2,
    )
    distance = class_gate(1.0 - iou_matrix(boxes_a, boxes_b, pairs), classes_a, classes_b, pairs)
    return pairs, distance


def _assign(
    cost: np.ndarray, pairs: Pairs, track_index: np.ndarray, det_index: np.ndarray, threshold: float
) -> _Assignment:
    """`linear_assignment` over pair costs, answered in table rows and detection numbers."""
    matrix = sparse.coo_array((cost, pairs), shape=(len(track_index), len(det_index)))
    matches, unmatched_tracks, unmatched_dets = linear_assignment(matrix, threshold)
    matched = np.stack([track_index[matches[:, 0]], det_index[matches[:, 1]]], axis=1)
    return matched, track_index[unmatched_tracks], det_index[unmatched_dets]


def _check_range(
    name: str,
    value: float,
    low: float,
    high: float,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    if not (above and below):
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"track.{name} must be in {interval}, got {value}")

"""What a clip sends from its model actor to its associator (`ClipResult`): Arrow IPC payloads
(detections with their embeddings, or tracklets), the per-frame platform shifts as raw float64
and the clip's stage seconds; and the small row the driver gets instead."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pyarrow as pa

from tgram.data.tracks import TrackRows
from tgram.detections import Detections
from tgram.pipeline.clips import Clip, ClipTask
from tgram.stage_times import StageTimes
from tgram.track.run import FrameDetections

log = logging.getLogger(__name__)


def shifts_to_bytes(detections: list[FrameDetections]) -> bytes:
    """A clip's per-frame platform shifts, [frames, 2] little-endian float64 (no pickle)."""
    shifts = np.stack([f.shift for f in detections]) if detections else np.zeros((0, 2))
    return np.asarray(shifts, "<f8").tobytes()


def shifts_from_bytes(payload: bytes) -> np.ndarray:
    return np.frombuffer(payload, "<f8").reshape(-1, 2)


@dataclass(frozen=True)
class ClipResult:
    """What a model actor made of one clip: its payload and shifts, or why it failed (`stage`
    is where: probe, track, associate)."""

    task: ClipTask
    payload: bytes = b""
    shift: bytes = b""
    times: StageTimes = field(default_factory=StageTimes)
    stage: str = ""
    error: str = ""

    @property
    def clip(self) -> Clip:
        return self.task.clip

    def summary_row(self, record: str) -> dict[str, Any]:
        """The row the driver gets: the task, the outcome, stage seconds and `record` (the
        video's record as JSON when this clip completed the video, else "")."""
        row = {**self.task.to_row(), "stage": self.stage, "error": self.error}
        return {**row, **stage_columns(self.times), "record": record}


def video_shifts(clip_results: list[ClipResult], frames: int) -> np.ndarray:
    """[frames, 2] per-frame platform shifts of a video from its clips, placed by frame
    (clips of `association: clip` overlap; their shared frames agree)."""
    shifts = np.zeros((frames, 2))
    for r in clip_results:
        shifts[r.clip.start : r.clip.end] = shifts_from_bytes(r.shift)
    return shifts


def detections_to_ipc(detections: list[FrameDetections], emb_dim: int) -> bytes:
    """A clip's detections, one row each, as Arrow IPC bytes. Embeddings travel as float16,
    losslessly: the Detector already rounds them to it (Detector.__call__), so the
    associator's tracker sees exactly what `tgram track`'s does."""
    frame = np.concatenate(
        [np.full(len(f.detections), f.index, np.int32) for f in detections]
        + [np.zeros(0, np.int32)]
    )

    def stacked(name: str, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        return np.concatenate(
            [getattr(f.detections, name) for f in detections] + [np.zeros(shape, dtype)]
        ).astype(dtype)

    boxes = stacked("boxes", (0, 4), np.float32)
    embedding = stacked("embeddings", (0, emb_dim), np.float16)
    table = pa.table(
        {
            "frame": frame,
            "x1": boxes[:, 0],
            "y1": boxes[:, 1],
            "x2": boxes[:, 2],
            "y2": boxes[:, 3],
            "score": stacked("scores", (0,), np.float32),
            "class_id": stacked("classes", (0,), np.int64),
            "embedding": pa.FixedSizeListArray.from_arrays(embedding.reshape(-1), emb_dim),
        }
    )
    return to_ipc(table)


def detections_from_ipc(payload: bytes, shifts: bytes, clip: Clip) -> Iterator[FrameDetections]:
    """Every frame of the clip in order, empty frames included: the tracker must step
    through them as it would in `tgram track`."""
    shift = shifts_from_bytes(shifts)
    table = from_ipc(payload)
    frame = table["frame"].to_numpy()
    boxes = np.stack([table[c].to_numpy() for c in ("x1", "y1", "x2", "y2")], axis=1).reshape(-1, 4)
    scores, classes = table["score"].to_numpy(), table["class_id"].to_numpy()
    embedding = table["embedding"].combine_chunks()
    embeddings = (
        embedding.flatten()
        .to_numpy()
        .reshape(len(frame), embedding.type.list_size)
        .astype(np.float32)
    )
    bounds = np.searchsorted(frame, np.arange(clip.start, clip.end + 1))
    for index, lo, hi in zip(range(clip.start, clip.end), bounds[:-1], bounds[1:], strict=True):
        det = Detections(boxes[lo:hi], scores[lo:hi], classes[lo:hi], embeddings[lo:hi])
        yield FrameDetections(index, det, shift[index - clip.start])


def to_ipc(table: pa.Table) -> bytes:
    """Arrow IPC, zstd: how clips travel from model actors to associators (no pickle)."""
    sink = io.BytesIO()
    with pa.ipc.new_stream(
        sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")
    ) as writer:
        writer.write_table(table)
    return sink.getvalue()


def from_ipc(payload: bytes) -> pa.Table:
    with pa.ipc.open_stream(payload) as reader:
        return reader.read_all()


def tracklets_to_ipc(rows: TrackRows, clip: Clip, class_names: tuple[str, ...]) -> bytes:
    """A clip's rows as Arrow IPC bytes (no pickle). Embeddings are kept only on overlap
    frames, where stitching compares them; elsewhere they are zero, which leaves the
    direction of a tracklet's mean embedding over the overlap unchanged and compresses away."""
    in_overlap = (rows.frame < clip.start + clip.overlap) | (rows.frame >= clip.end - clip.overlap)
    embedding = np.where(in_overlap[:, None], rows.embedding, 0).astype(np.float16)
    table = rows.to_arrow(class_names, id_column="local_track_id")
    return to_ipc(
        table.append_column(
            "embedding",
            pa.FixedSizeListArray.from_arrays(embedding.reshape(-1), embedding.shape[1]),
        )
    )


def stage_columns(times: StageTimes) -> dict[str, float]:
    """A clip's stage seconds as its result row's `<stage>_s` columns."""
    return {f"{stage}_s": seconds for stage, seconds in asdict(times).items()}


def stage_times(row: dict[str, Any]) -> StageTimes:
    """The inverse of `stage_columns`."""
    return StageTimes(**{f.name: float(row[f"{f.name}_s"]) for f in fields(StageTimes)})

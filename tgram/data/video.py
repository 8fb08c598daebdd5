"""Frame access for mp4 files and image-sequence folders, local or s3://, and H.264 writing.

Frames are RGB uint8 arrays [H, W, 3]; frame indices are 0-based here (MOTChallenge files
are 1-based: convert at the file boundary only). Readers seek instead of decoding from the
start, so a batch worker can open a long video and decode only its clip; over s3:// the
container is read with ranged GETs through pyarrow, never downloaded whole.
"""

from __future__ import annotations

import configparser
import hashlib
import io
import json
import logging
import math
import posixpath
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Literal

import av
import cv2
import numpy as np
import pyarrow.fs as pafs

from tgram import storage

log = logging.getLogger(__name__)

VideoKind = Literal["container", "images"]

DEFAULT_IMAGE_FPS = 10.0
"""Frame rate of an image sequence that has no seqinfo.ini or meta.json: Jilin-1 video is 10 fps."""

CONTAINER_FORMATS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".avi": "avi",
    ".ts": "mpegts",
}
"""Video files read (and written) through PyAV, by suffix in any case, with FFmpeg's muxer."""
VIDEO_SUFFIXES = tuple(CONTAINER_FORMATS)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
FRAME_DIR_NAMES = ("img1", "img")
"""Sub-folders that hold a sequence's frames: MOTChallenge `<seq>/img1`, AIR-MOT `<seq>/img`."""

_ORIGIN_PACKETS = 16
"""Packets read to find frame 0's timestamp (B-frames reorder only within a few)."""
_SEEK_BACK_FRAMES = (0, 30, 300, 3000, 1 << 62)
"""Frames before a clip's start to seek to, in turn, when a demuxer lands after it."""
_AVIO_BUFFER_BYTES = 1 << 20
"""FFmpeg's read size: every read of a pyarrow S3 file is one ranged GET, so read in large pieces."""

_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_DIGIT_RUNS = re.compile(r"(\d+)")


class VideoError(ValueError):
    """A video that cannot be read: missing, empty, corrupt, truncated or not a video.

    One per video, with a one-line message naming the URI, so a batch job can record it as
    that video's failure and go on with the others. Storage faults (network, permissions)
    stay OSError: they say nothing about the video and are worth retrying.
    """


@dataclass(frozen=True)
class VideoInfo:
    """What a reader needs to plan clips: frame count, rate and size, without decoding."""

    uri: str
    kind: VideoKind
    frames: int
    fps: float
    width: int
    height: int


def probe(uri: str | Path) -> VideoInfo:
    """Frame count, fps and size from container metadata (mp4) or a folder listing (images)."""
    fs, path, kind = _locate(uri)
    if kind == "images":
        frame_paths = _image_frame_paths(uri, fs, path)
        height, width = _read_image(uri, fs, frame_paths[0]).shape[:2]
        fps = _sequence_fps(uri, fs, path)
        return VideoInfo(str(uri), "images", len(frame_paths), fps, width, height)
    with _open_container(uri, fs, path) as (container, stream), _ffmpeg_errors(uri, "cannot probe"):
        frames = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
        if frames == 0:
            raise VideoError(f"{uri}: video stream has no frames")
        ctx = stream.codec_context
        return VideoInfo(
            str(uri), "container", frames, float(_frame_rate(uri, stream)), ctx.width, ctx.height
        )


def read_frames(
    uri: str | Path, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """(0-based frame index, RGB uint8 frame) for frames [start, end) of a video.

    `end=None` or an `end` past the last frame reads to the end. mp4 is opened at the
    keyframe before `start` and decoded forward; frame indices come from presentation
    timestamps (constant frame rate), so they are exact whatever the seek lands on.
    A missing or empty video raises VideoError here; a corrupt one, or one that ends
    before its container said it would, raises VideoError while iterating.
    """
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"{uri}: frame range [{start}, {end}) must have 0 <= start <= end")
    fs, path, kind = _locate(uri)
    if kind == "images":
        return _read_image_frames(uri, fs, _image_frame_paths(uri, fs, path), start, end)
    return _read_container_frames(uri, fs, path, start, end)


@dataclass(frozen=True)
class ArchiveScan:
    """What is under an archive root: its videos with their ids, and the files that are not
    part of any video (counted, so nothing under the input is silently passed over)."""

    videos: list[str]
    ids: list[str]
    skipped: list[str]


def scan_archive(root_uri: str | Path) -> ArchiveScan:
    """The video files and image-sequence folders at or under `root_uri`, sorted, with their
    `video_ids`; every other file, except those inside an image-sequence folder and hidden
    ones, is `skipped`.

    An image-sequence folder is the folder holding the images, or its parent when the
    images sit in an `img`/`img1` sub-folder (AIR-MOT, MOTChallenge).
    """
    fs, root = storage.resolve(root_uri)
    root_info = fs.get_file_info(root)
    if root_info.type == pafs.FileType.NotFound:
        raise VideoError(f"{root_uri}: no such file or directory")
    if root_info.type == pafs.FileType.File:
        entries = [root_info]
    else:
        entries = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    found: set[str] = set()
    others: list[str] = []
    for entry in entries:
        if entry.type != pafs.FileType.File or entry.base_name.startswith("."):
            continue
        suffix = posixpath.splitext(entry.base_name)[1].lower()
        if suffix in VIDEO_SUFFIXES:
            found.add(entry.path)
        elif suffix in IMAGE_SUFFIXES:
            found.add(_sequence_dir(entry.path))
        else:
            others.append(entry.path)
    sequences = tuple(f"{path}/" for path in found if not _is_video_file(path))
    prefix = "s3://" if storage.is_s3(str(root_uri)) else ""
    videos = sorted(prefix + path for path in found)
    skipped = sorted(prefix + p for p in others if not p.startswith(sequences))
    base = prefix + root
    return ArchiveScan(videos, video_ids(base, videos), skipped)


def list_videos(root_uri: str | Path) -> list[str]:
    """`scan_archive(root_uri).videos`."""
    return scan_archive(root_uri).videos


def video_id(uri: str | Path, root: str | Path | None = None) -> str:
    """The id a video's outputs are keyed by: safe as one storage key segment, stable, unique
    within an archive.

    `name` is the video's path relative to `root` (the folder that was listed; without
    `root`, its base name), with the container suffix and an `img`/`img1` frame folder
    dropped. A name that is one segment of [A-Za-z0-9._-] starting with a letter or digit is
    the id (`synth_0001`, AIR-MOT's `12`); any other name (sub-folders, spaces, quotes,
    non-ASCII letters, a leading `_` or `-`) becomes its ASCII slug, '/' written as '_',
    plus '-' and 8 hex digits of the SHA-256 of the name, so two videos never share an id:
    `day 1/scène.mp4` -> `day_1_scene-` + hash. `video_ids` settles the one clash left, a
    video file and an image-sequence folder of one name side by side.
    """
    name = _video_name(str(uri), None if root is None else str(root))
    if SAFE_ID.fullmatch(name):
        return name
    return _hashed_id(name)


def video_ids(root: str | Path, uris: list[str]) -> list[str]:
    """`video_id` of each of `uris` (from `list_videos(root)`), all distinct: where videos
    share a name (`x.mp4` beside `x.mov`, `x.MP4` or an image folder `x/`), the `.mp4` file
    keeps the plain id and the others get the hash of their full relative path."""
    ids = [video_id(u, root) for u in uris]
    counts: dict[str, int] = {}
    for vid in ids:
        counts[vid] = counts.get(vid, 0) + 1
    for i, uri in enumerate(uris):
        if counts[ids[i]] > 1 and posixpath.splitext(uri.rstrip("/"))[1] != ".mp4":
            ids[i] = _hashed_id(
                _relative_path(uri, str(root)) + ("" if _is_video_file(uri) else "/")
            )
    if len(set(ids)) != len(ids):
        raise AssertionError(f"{root}: video ids are not unique")
    return ids


SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
"""One storage key segment: no '/', no '..', no leading '.', '_' or '-' (Hive readers skip
'.' and '_' files, a leading '-' reads as a command-line flag)."""
_ID_SLUG_CHARS = 80


def _hashed_id(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"_+", "_", _UNSAFE_ID_CHARS.sub("_", ascii_name.replace("/", "_")))
    slug = slug.strip("._-")[:_ID_SLUG_CHARS].rstrip("._-") or "video"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _video_name(uri: str, root: str | None) -> str:
    name = _relative_path(uri, root)
    return posixpath.splitext(name)[0] if _is_video_file(name) else name


def _relative_path(uri: str, root: str | None) -> str:
    """`uri` relative to `root` (its base name without one), an image sequence's frame
    folder dropped."""
    path = uri.rstrip("/")
    if posixpath.basename(path) in FRAME_DIR_NAMES:
        path = posixpath.dirname(path)
    if root is not None:
        base = root.rstrip("/")
        if not storage.is_s3(base):
            base, path = storage.resolve(base)[1], storage.resolve(path)[1]
        if path.startswith(base + "/"):
            return path[len(base) + 1 :]
    return posixpath.basename(path)


def _is_video_file(uri: str) -> bool:
    return posixpath.splitext(uri.rstrip("/"))[1].lower() in VIDEO_SUFFIXES


def _locate(uri: str | Path) -> tuple[pafs.FileSystem, str, VideoKind]:
    fs, path = storage.resolve(uri)
    info = fs.get_file_info(path)
    if info.type == pafs.FileType.NotFound:
        raise VideoError(f"{uri}: no such file or directory")
    if info.type == pafs.FileType.Directory:
        return fs, path, "images"
    if info.size == 0:
        raise VideoError(f"{uri}: empty file (0 bytes)")
    return fs, path, "container"


def _sequence_dir(image_path: str) -> str:
    folder = posixpath.dirname(image_path)
    if posixpath.basename(folder) in FRAME_DIR_NAMES:
        return posixpath.dirname(folder)
    return folder


# --- image sequences -------------------------------------------------------------------


def _image_frame_paths(uri: str | Path, fs: pafs.FileSystem, seq_path: str) -> list[str]:
    """Frame files in playback order; a frame's index is its position in this list."""
    entries = {e.base_name: e for e in fs.get_file_info(pafs.FileSelector(seq_path))}
    frame_dir = next(
        (
            entries[name].path
            for name in FRAME_DIR_NAMES
            if name in entries and entries[name].type == pafs.FileType.Directory
        ),
        seq_path,
    )
    files = [
        e
        for e in fs.get_file_info(pafs.FileSelector(frame_dir))
        if e.type == pafs.FileType.File
        and not e.base_name.startswith(".")
        and posixpath.splitext(e.base_name)[1].lower() in IMAGE_SUFFIXES
    ]
    if not files:
        raise VideoError(f"{uri}: no image frames ({', '.join(IMAGE_SUFFIXES)}) in {frame_dir}")
    return [e.path for e in sorted(files, key=lambda e: _natural_key(e.base_name))]


def _natural_key(name: str) -> list[int | str]:
    """Sort key that puts 2.jpg before 10.jpg, for sequences without zero padding."""
    return [int(part) if part.isdigit() else part for part in _DIGIT_RUNS.split(name)]


def _sequence_fps(uri: str | Path, fs: pafs.FileSystem, seq_path: str) -> float:
    """fps from MOTChallenge seqinfo.ini `frameRate`, else meta.json `fps`, else the default."""
    seqinfo = posixpath.join(seq_path, "seqinfo.ini")
    meta = posixpath.join(seq_path, "meta.json")
    seqinfo_info, meta_info = fs.get_file_info([seqinfo, meta])
    if seqinfo_info.type == pafs.FileType.File:
        path, source, parse = seqinfo, f"{seqinfo} [Sequence] frameRate", _seqinfo_frame_rate
    elif meta_info.type == pafs.FileType.File:
        path, source, parse = meta, f"{meta} key 'fps'", _meta_frame_rate
    else:
        return DEFAULT_IMAGE_FPS
    try:
        fps = parse(_read_text(fs, path))
    except (configparser.Error, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise VideoError(f"{uri}: cannot read {source}: {reason}") from exc
    if not (math.isfinite(fps) and fps > 0):
        raise VideoError(f"{uri}: {source} must be a positive number, got {fps}")
    return fps


def _seqinfo_frame_rate(text: str) -> float:
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return parser.getfloat("Sequence", "frameRate")


def _meta_frame_rate(text: str) -> float:
    return float(json.loads(text)["fps"])


def _read_text(fs: pafs.FileSystem, path: str) -> str:
    with fs.open_input_stream(path) as f:
        return f.read().decode()


def _read_image(uri: str | Path, fs: pafs.FileSystem, path: str) -> np.ndarray:
    with fs.open_input_stream(path) as f:
        data = f.read()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if bgr is None:
        raise VideoError(f"{uri}: frame {posixpath.basename(path)} is not a decodable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _read_image_frames(
    uri: str | Path, fs: pafs.FileSystem, frame_paths: list[str], start: int, end: int | None
) -> Iterator[tuple[int, np.ndarray]]:
    stop = len(frame_paths) if end is None else min(end, len(frame_paths))
    for index in range(start, stop):
        yield index, _read_image(uri, fs, frame_paths[index])


# --- mp4 ---------------------------------------------------------------------------------


@contextmanager
def _ffmpeg_errors(uri: str | Path, doing: str) -> Iterator[None]:
    """Turn FFmpeg's errors into one-line VideoErrors that name the video."""
    try:
        yield
    except av.FFmpegError as exc:
        raise VideoError(f"{uri}: {doing}: {exc.strerror or exc}") from exc


@contextmanager
def _open_container(
    uri: str | Path, fs: pafs.FileSystem, path: str
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    with fs.open_input_file(path) as file:
        with _ffmpeg_errors(uri, "not a readable video"):
            container = av.open(file, mode="r", buffer_size=_AVIO_BUFFER_BYTES)
        with container:
            if not container.streams.video:
                raise VideoError(f"{uri}: no video stream")
            yield container, container.streams.video[0]


def _frame_rate(uri: str | Path, stream: av.video.stream.VideoStream) -> Fraction:
    rate = stream.guessed_rate
    if not rate:
        raise VideoError(f"{uri}: container has no frame rate")
    return Fraction(rate)


@dataclass(frozen=True)
class _FrameClock:
    """Maps presentation timestamps to frame indices and back, for constant frame rate."""

    origin_pts: int
    pts_per_frame: Fraction
    counted: bool = False
    """AVI stores no presentation times: FFmpeg makes them up from the decoding order, which
    is wrong after a seek when the stream has B-frames. Frames after the first decoded one
    are then numbered by counting (the decoder itself outputs them in display order)."""

    @classmethod
    def of(
        cls,
        uri: str | Path,
        container: av.container.InputContainer,
        stream: av.video.stream.VideoStream,
    ) -> _FrameClock:
        """Frame 0 is the earliest presentation time among the first packets: containers
        disagree on `start_time` (AVI's frames start one tick after it, MPEG-TS's at it)."""
        pts_per_frame = 1 / (_frame_rate(uri, stream) * Fraction(stream.time_base))
        first = [
            p.pts for p in islice(container.demux(stream), _ORIGIN_PACKETS) if p.pts is not None
        ]
        counted = container.format.name == "avi"
        return cls(min(first, default=stream.start_time or 0), pts_per_frame, counted)

    def indexed(self, frames: Iterator[av.VideoFrame]) -> Iterator[tuple[int, av.VideoFrame]]:
        """(frame index, frame) of decoded frames, from their timestamps or by counting."""
        if not self.counted:
            yield from ((self.index(frame.pts), frame) for frame in frames)
            return
        first = next(frames, None)
        if first is not None:
            start = self.index(first.pts)
            yield start, first
            yield from enumerate(frames, start + 1)

    def index(self, pts: int) -> int:
        return round((pts - self.origin_pts) / self.pts_per_frame)

    def pts(self, index: int) -> int:
        return self.origin_pts + int(index * self.pts_per_frame)


def _read_container_frames(
    uri: str | Path, fs: pafs.FileSystem, path: str, start: int, end: int | None
) -> Iterator[tuple[int, np.ndarray]]:
    with (
        _open_container(uri, fs, path) as (container, stream),
        _ffmpeg_errors(uri, "decode failed"),
    ):
        clock = _FrameClock.of(uri, container, stream)
        listed = stream.frames or None
        expected_end = listed if end is None or listed is None else min(end, listed)
        next_index = start
        for index, frame in _decode_from(uri, container, stream, clock, start):
            if end is not None and index >= end:
                return
            if index >= start:
                yield index, frame.to_ndarray(format="rgb24")
                next_index = index + 1
        if expected_end is not None and next_index < expected_end:
            raise VideoError(
                f"{uri}: stream ends at frame {next_index} but the container lists "
                f"{listed} frames (truncated?)"
            )


def _decode_from(
    uri: str | Path,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    clock: _FrameClock,
    start: int,
) -> Iterator[tuple[int, av.VideoFrame]]:
    """Decoded (index, frame) pairs from the keyframe at or before frame `start` onwards.

    The mp4/mov/mkv/avi demuxers seek by presentation time, so decoding resumes at or before
    `start`; MPEG-TS seeks by byte position and can land after it, so the seek is retried
    further back, down to the first frame. Landing after frame 0 even then is an error
    rather than silently missing frames.
    """
    for back in _SEEK_BACK_FRAMES:
        target = max(start - back, 0)
        # below frame 0's time for frame 0: MPEG-TS seeking to exactly it can land later
        at = clock.pts(target) if target > 0 else min(clock.origin_pts, 0)
        container.seek(at, stream=stream, backward=True)
        decoded = clock.indexed(container.decode(stream))
        first = next(decoded, None)
        if first is not None and first[0] <= start:
            yield first
            yield from decoded
            return
        if target == 0:
            break
    if first is None:
        return  # no frame at or after frame 0: an empty stream, which the caller reports
    raise VideoError(
        f"{uri}: seeking to frame {start} landed on frame {first[0]}: container cannot seek exactly"
    )


# --- writing -----------------------------------------------------------------------------

X264Preset = Literal[
    "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
]
"""x264 speed presets; ultrafast and superfast reproduce frames bit for bit (see HeldoutConfig)."""


class VideoWriter:
    """H.264 writer into the container its suffix names (mp4 unless told otherwise) (PyAV's bundled FFmpeg, no system ffmpeg); local path or s3:// URI."""

    def __init__(
        self,
        uri: str | Path,
        *,
        fps: float,
        width: int,
        height: int,
        crf: int = 23,
        preset: str = "veryfast",
        gop: int | None = None,
        threads: int = 0,
    ) -> None:
        if width % 2 or height % 2:
            raise ValueError(
                f"{uri}: H.264 with yuv420p needs even width and height, got {width}x{height}"
            )
        self.uri = str(uri)
        self._buffer: io.BytesIO | None = None
        if storage.is_s3(self.uri):
            self._buffer = io.BytesIO()
            target: str | io.BytesIO = self._buffer
        else:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
            target = self.uri
        suffix = posixpath.splitext(self.uri)[1].lower()
        if suffix not in CONTAINER_FORMATS:
            raise ValueError(f"{uri}: expected a video file name ending in one of {VIDEO_SUFFIXES}")
        self._container = av.open(target, mode="w", format=CONTAINER_FORMATS[suffix])
        self._stream = self._container.add_stream("libx264", rate=_fps_fraction(fps))
        self._stream.width = width
        self._stream.height = height
        self._stream.pix_fmt = "yuv420p"
        # A fixed GOP bounds the cost of a seek: decoding restarts at most `gop` frames back.
        self._stream.codec_context.gop_size = gop or max(1, int(round(fps)) * 2)
        self._stream.options = {"crf": str(crf), "preset": preset}
        # 0 = x264 picks; 1 is cheaper in total CPU when several writers already run in parallel.
        self._stream.codec_context.thread_count = threads
        self._yuv = np.empty((height * 3 // 2, width), np.uint8)
        """The I420 planes of the frame being encoded, one buffer for every frame."""
        self.frames_written = 0

    def write(self, frame_rgb: np.ndarray) -> None:
        height, width = self._yuv.shape[0] * 2 // 3, self._yuv.shape[1]
        if frame_rgb.shape != (height, width, 3):
            raise ValueError(
                f"{self.uri}: frame of shape {frame_rgb.shape}, the video is {width}x{height} RGB"
            )
        # OpenCV's BT.601 I420 conversion is ~10x faster than FFmpeg's swscale for RGB input
        # and decodes to the same colours (checked against rgb24 -> swscale round trips).
        cv2.cvtColor(np.ascontiguousarray(frame_rgb), cv2.COLOR_RGB2YUV_I420, dst=self._yuv)
        # zero-copy: x264 copies the picture into its own frame inside encode(), so the
        # buffer is free for the next frame when encode() returns (from_ndarray would copy
        # and page in a fresh 3 MB every frame)
        frame = av.VideoFrame.from_numpy_buffer(self._yuv, format="yuv420p")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        if self._buffer is not None:
            storage.write_bytes(self.uri, self._buffer.getvalue())

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:  # never publish a partial video: local file is removed, S3 upload skipped
            self._container.close()
            if self._buffer is None:
                Path(self.uri).unlink(missing_ok=True)


def _fps_fraction(fps: float) -> Fraction:
    return Fraction(fps).limit_denominator(1001)

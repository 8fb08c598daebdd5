"""Frame readers over real H.264 mp4 and image folders, local and on a real (moto) S3 endpoint.

Every frame carries its own index as 8 bright/dark blocks, so a test can tell not only that
two read paths agree but that both return the frame they claim to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tgram import storage
from tgram.data.video import (
    DEFAULT_IMAGE_FPS,
    VideoError,
    VideoInfo,
    VideoWriter,
    list_videos,
    probe,
    read_frames,
    scan_archive,
    video_id,
)
from tgram.pipeline.trajectories import check_video_id

WIDTH, HEIGHT, FPS, N_FRAMES = 160, 96, 10, 40
GOP = 20  # VideoWriter's default at 10 fps: keyframes at 0 and 20
BIT_WIDTH, BIT_HEIGHT = WIDTH // 8, 32


def numbered_frame(index: int) -> np.ndarray:
    """A frame whose top band spells `index` in binary; the rest is a shifting colour ramp."""
    frame = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    ramp = (np.arange(WIDTH) * 2 + index * 7) % 256
    frame[:, :, 0] = ramp
    frame[:, :, 1] = ramp[::-1]
    frame[:, :, 2] = 128
    for bit in range(8):
        frame[:BIT_HEIGHT, bit * BIT_WIDTH : (bit + 1) * BIT_WIDTH] = (
            230 if index >> bit & 1 else 20
        )
    return frame


def frame_number(frame: np.ndarray) -> int:
    return sum(
        1 << bit
        for bit in range(8)
        if frame[:BIT_HEIGHT, bit * BIT_WIDTH : (bit + 1) * BIT_WIDTH].mean() > 128
    )


def write_mp4(uri: str) -> None:
    with VideoWriter(uri, fps=FPS, width=WIDTH, height=HEIGHT) as writer:
        for index in range(N_FRAMES):
            writer.write(numbered_frame(index))


def write_image_sequence(seq_uri: str, frame_dir: str = "img", suffix: str = ".png") -> None:
    """Frames 000001.<suffix>... (1-based names, as in MOTChallenge) under seq_uri/frame_dir."""
    for index in range(N_FRAMES):
        bgr = cv2.cvtColor(numbered_frame(index), cv2.COLOR_RGB2BGR)
        name = f"{index + 1:06d}{suffix}"
        uri = storage.join(seq_uri, frame_dir, name) if frame_dir else storage.join(seq_uri, name)
        storage.write_bytes(uri, cv2.imencode(suffix, bgr)[1].tobytes())


def remux(src: str, dst: str, container_format: str, options: dict[str, str] | None = None) -> None:
    """Copy the H.264 packets of `src` into another container, without re-encoding."""
    with (
        av.open(src) as source,
        av.open(dst, "w", format=container_format, options=options or {}) as out,
    ):
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)


def read_one(uri: str, index: int) -> tuple[int, np.ndarray]:
    (frame,) = read_frames(uri, index, index + 1)
    return frame


@pytest.fixture(scope="module")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> str:
    uri = str(tmp_path_factory.mktemp("video") / "clip.mp4")
    write_mp4(uri)
    return uri


@pytest.fixture(scope="module")
def mp4_sequential(mp4: str) -> list[np.ndarray]:
    frames = list(read_frames(mp4))
    assert [index for index, _ in frames] == list(range(N_FRAMES))
    return [frame for _, frame in frames]


@pytest.fixture
def image_sequence(tmp_path: Path) -> str:
    seq = str(tmp_path / "seq1")
    write_image_sequence(seq)
    return seq


# --- mp4 ---------------------------------------------------------------------------------


def test_probe_mp4_reads_container_metadata(mp4: str) -> None:
    assert probe(mp4) == VideoInfo(mp4, "container", N_FRAMES, float(FPS), WIDTH, HEIGHT)


def test_probe_counts_packets_when_container_has_no_frame_count(mp4: str, tmp_path: Path) -> None:
    mkv = str(tmp_path / "clip.mkv")
    remux(mp4, mkv, "matroska")
    with av.open(mkv) as container:
        assert container.streams.video[0].frames == 0  # Matroska stores no frame count
    assert probe(mkv).frames == N_FRAMES


def test_sequential_read_numbers_every_frame(mp4_sequential: list[np.ndarray]) -> None:
    assert [frame_number(frame) for frame in mp4_sequential] == list(range(N_FRAMES))
    assert all(
        frame.shape == (HEIGHT, WIDTH, 3) and frame.dtype == np.uint8 for frame in mp4_sequential
    )


@pytest.mark.parametrize("index", [0, 1, 7, GOP - 1, GOP, GOP + 3, N_FRAMES - 1])
def test_seek_returns_the_same_frame_as_sequential_decode(
    mp4: str, mp4_sequential: list[np.ndarray], index: int
) -> None:
    got_index, frame = read_one(mp4, index)
    assert got_index == index
    assert frame_number(frame) == index
    assert np.array_equal(frame, mp4_sequential[index])


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (5, 9, [5, 6, 7, 8]),
        (GOP - 2, GOP + 1, [GOP - 2, GOP - 1, GOP]),
        (37, None, [37, 38, 39]),
        (36, 1000, [36, 37, 38, 39]),
        (7, 7, []),
        (0, 0, []),
        (N_FRAMES, None, []),
    ],
)
def test_read_frames_yields_half_open_range(
    mp4: str, image_sequence: str, start: int, end: int | None, expected: list[int]
) -> None:
    for uri in (mp4, image_sequence):
        frames = list(read_frames(uri, start, end))
        assert [index for index, _ in frames] == expected
        assert [frame_number(frame) for _, frame in frames] == expected


@pytest.mark.parametrize(("start", "end"), [(-1, None), (5, 4)])
def test_read_frames_rejects_inverted_or_negative_range(
    mp4: str, start: int, end: int | None
) -> None:
    with pytest.raises(ValueError, match=r"0 <= start <= end"):
        read_frames(mp4, start, end)


# --- image sequences -------------------------------------------------------------------


@pytest.mark.parametrize("frame_dir", ["img", "img1", ""])
def test_image_sequence_layouts(tmp_path: Path, frame_dir: str) -> None:
    seq = str(tmp_path / "seq1")
    write_image_sequence(seq, frame_dir)
    assert probe(seq) == VideoInfo(seq, "images", N_FRAMES, DEFAULT_IMAGE_FPS, WIDTH, HEIGHT)
    frames = list(read_frames(seq))
    assert [index for index, _ in frames] == list(range(N_FRAMES))
    # PNG is lossless: what comes back is exactly what was written.
    assert all(np.array_equal(frame, numbered_frame(index)) for index, frame in frames)


@pytest.mark.parametrize("index", [0, 13, N_FRAMES - 1])
def test_image_sequence_seek_matches_sequential(tmp_path: Path, index: int) -> None:
    seq = str(tmp_path / "seq1")
    write_image_sequence(seq, "img", ".jpg")
    sequential = dict(read_frames(seq))
    got_index, frame = read_one(seq, index)
    assert got_index == index
    assert frame_number(frame) == index
    assert np.array_equal(frame, sequential[index])


def test_image_frames_sort_naturally_without_zero_padding(tmp_path: Path) -> None:
    for index in range(12):
        bgr = cv2.cvtColor(numbered_frame(index), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(tmp_path / f"{index + 1}.png"), bgr)
    assert [frame_number(frame) for _, frame in read_frames(str(tmp_path))] == list(range(12))


@pytest.mark.parametrize(
    ("name", "text", "fps"),
    [
        ("seqinfo.ini", "[Sequence]\nname=seq1\nframeRate=25\nseqLength=40\n", 25.0),
        ("meta.json", '{"fps": 12.5, "width": 160}', 12.5),
    ],
)
def test_image_sequence_fps_from_metadata(
    image_sequence: str, name: str, text: str, fps: float
) -> None:
    storage.write_bytes(storage.join(image_sequence, name), text.encode())
    assert probe(image_sequence).fps == fps


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("seqinfo.ini", "[Sequence]\nname=seq1\n", r"seqinfo.ini \[Sequence\] frameRate"),
        ("seqinfo.ini", "[Sequence]\nframeRate=0\n", "must be a positive number"),
        ("meta.json", "{not json", r"meta.json key 'fps'"),
    ],
)
def test_image_sequence_bad_fps_metadata(
    image_sequence: str, name: str, text: str, reason: str
) -> None:
    storage.write_bytes(storage.join(image_sequence, name), text.encode())
    with pytest.raises(VideoError, match=reason) as info:
        probe(image_sequence)
    assert image_sequence in str(info.value) and "\n" not in str(info.value)


def test_undecodable_image_frame_names_the_frame(image_sequence: str) -> None:
    storage.write_bytes(storage.join(image_sequence, "img", "000003.png"), b"not a png")
    frames = read_frames(image_sequence, 1)
    assert next(frames)[0] == 1
    with pytest.raises(VideoError, match=r"seq1: frame 000003.png is not a decodable image"):
        next(frames)


def test_folder_without_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no frames here")
    with pytest.raises(VideoError, match="no image frames"):
        probe(str(tmp_path))


# --- broken inputs ---------------------------------------------------------------------


def _empty(path: Path, mp4_bytes: bytes) -> None:
    path.write_bytes(b"")


def _truncated(path: Path, mp4_bytes: bytes) -> None:
    path.write_bytes(mp4_bytes[: len(mp4_bytes) // 2])


def _text(path: Path, mp4_bytes: bytes) -> None:
    path.write_text("frame,id,x,y,w,h\n1,1,10,10,5,5\n")


@pytest.mark.parametrize(
    ("make_bad", "reason"),
    [
        (_empty, "empty file"),
        (_truncated, "not a readable video"),
        (_text, "not a readable video"),
        (None, "no such file"),
    ],
)
def test_bad_video_raises_video_error_naming_it(
    mp4: str, tmp_path: Path, make_bad: Callable[[Path, bytes], None] | None, reason: str
) -> None:
    bad = tmp_path / "bad.mp4"
    if make_bad is not None:
        make_bad(bad, Path(mp4).read_bytes())
    for read in (probe, lambda uri: list(read_frames(uri))):
        with pytest.raises(VideoError, match=reason) as info:
            read(str(bad))
        assert str(bad) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("cut_into_packet", "reason"),
    [
        (0, rf"stream ends at frame \d+ but the container lists {N_FRAMES} frames \(truncated\?\)"),
        (3, "decode failed: Invalid data found"),
    ],
)
def test_truncated_faststart_mp4_fails_where_the_data_ends(
    mp4: str, tmp_path: Path, cut_into_packet: int, reason: str
) -> None:
    # With the index (moov) up front the container opens and lists all frames; the frame
    # data is cut, so reading must fail rather than end quietly with missing frames.
    faststart = tmp_path / "faststart.mp4"
    remux(mp4, str(faststart), "mp4", {"movflags": "faststart"})
    with av.open(str(faststart)) as container:
        offsets = [
            packet.pos for packet in container.demux(container.streams.video[0]) if packet.size
        ]
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(faststart.read_bytes()[: offsets[30] + cut_into_packet])
    assert probe(str(truncated)).frames == N_FRAMES
    decoded = []
    with pytest.raises(VideoError, match=rf"{re.escape(str(truncated))}: {reason}"):
        for index, frame in read_frames(str(truncated)):
            decoded.append((index, frame_number(frame)))
    assert decoded == [(index, index) for index in range(len(decoded))]
    assert len(decoded) >= 20


# --- s3:// -----------------------------------------------------------------------------


def test_mp4_on_s3_seeks_like_local(
    s3_bucket: str, mp4: str, mp4_sequential: list[np.ndarray]
) -> None:
    uri = storage.join(s3_bucket, "archive", "clip.mp4")
    storage.write_bytes(uri, Path(mp4).read_bytes())
    assert probe(uri) == VideoInfo(uri, "container", N_FRAMES, float(FPS), WIDTH, HEIGHT)
    for index in (0, GOP + 3, N_FRAMES - 1):
        got_index, frame = read_one(uri, index)
        assert got_index == index
        assert np.array_equal(frame, mp4_sequential[index])


def test_image_sequence_on_s3(s3_bucket: str) -> None:
    seq = storage.join(s3_bucket, "images", "test", "seq7")
    write_image_sequence(seq, "img1")
    storage.write_bytes(storage.join(seq, "seqinfo.ini"), b"[Sequence]\nframeRate=20\n")
    assert probe(seq) == VideoInfo(seq, "images", N_FRAMES, 20.0, WIDTH, HEIGHT)
    index, frame = read_one(seq, 21)
    assert index == 21
    assert np.array_equal(frame, numbered_frame(21))


def test_missing_s3_video_is_a_video_error(s3_bucket: str) -> None:
    uri = storage.join(s3_bucket, "nope.mp4")
    with pytest.raises(VideoError, match=re.escape(f"{uri}: no such file")):
        probe(uri)


# --- listing and ids -------------------------------------------------------------------


def _make_archive(root: str, mp4: str) -> list[str]:
    """An archive mixing layouts and noise; returns the videos list_videos must find."""
    mp4_bytes = Path(mp4).read_bytes()
    for name in ("b.mp4", "a.mp4", "nested/deeper/c.MP4", ".hidden.mp4"):
        storage.write_bytes(storage.join(root, name), mp4_bytes)
    for key, text in [("notes.txt", "x"), ("airmot/train/seq1/gt/gt.txt", "1,1,1,1,1,1,1,1,1")]:
        storage.write_bytes(storage.join(root, key), text.encode())
    png = cv2.imencode(".png", numbered_frame(0))[1].tobytes()
    for key in ("airmot/train/seq1/img/000001.jpg", "mot/seq2/img1/000001.png", "flat/seq3/1.png"):
        storage.write_bytes(storage.join(root, key), png)
    expected = [
        "a.mp4",
        "airmot/train/seq1",
        "b.mp4",
        "flat/seq3",
        "mot/seq2",
        "nested/deeper/c.MP4",
    ]
    return [storage.join(root, key) for key in expected]


def test_list_videos_local(tmp_path: Path, mp4: str) -> None:
    root = str(tmp_path / "archive")
    expected = _make_archive(root, mp4)
    assert list_videos(root) == expected
    assert list_videos(expected[0]) == [expected[0]]
    assert list_videos(storage.join(root, "mot", "seq2")) == [storage.join(root, "mot", "seq2")]


def test_list_videos_s3(s3_bucket: str, mp4: str) -> None:
    root = storage.join(s3_bucket, "archive")
    expected = _make_archive(root, mp4)
    assert list_videos(root) == expected
    assert list_videos(root + "/") == expected
    assert probe(expected[1]).kind == "images"


def test_scan_counts_the_files_that_are_not_videos(tmp_path: Path, mp4: str) -> None:
    root = str(tmp_path / "archive")
    _make_archive(root, mp4)
    scan = scan_archive(root)
    # gt.txt inside the AIR-MOT sequence belongs to it; notes.txt is nothing we read
    assert scan.skipped == [storage.join(root, "notes.txt")]
    # top-level names are ids; a video in a sub-folder carries its path and a hash of it
    pattern = ["a", "airmot_train_seq1-", "b", "flat_seq3-", "mot_seq2-", "nested_deeper_c-"]
    for vid, start in zip(scan.ids, pattern, strict=True):
        assert vid == start or re.fullmatch(re.escape(start) + "[0-9a-f]{8}", vid)
    assert scan.ids == [video_id(v, root) for v in scan.videos]


def test_list_videos_missing_root(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="no such file or directory"):
        list_videos(str(tmp_path / "missing"))


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/archive/JL1_2020-07.v2.mp4", "JL1_2020-07.v2"),
        ("/data/airmot/train/seq12/", "seq12"),
        ("/data/airmot/train/seq12/img", "seq12"),
        ("/data/MOT17-02/img1", "MOT17-02"),
        ("/data/run.2/clip.MP4", "clip"),
    ],
)
def test_video_id_keeps_safe_names(uri: str, expected: str) -> None:
    assert video_id(uri) == expected


@pytest.mark.parametrize(
    "name", ["JL1 2020:07.mp4", "../..", "村庄 video.mp4", ".hidden.mp4", "a/b\\c.mp4"]
)
def test_video_id_sanitises_unsafe_names(name: str) -> None:
    vid = video_id(f"/data/{name}")
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*-[0-9a-f]{8}", vid)


@pytest.mark.parametrize(
    "name", ["_x.mp4", "-x.mp4", "village video.mp4", "village vidéo.mp4", 'it\'s "q".mp4', "ü.mp4"]
)
def test_any_file_name_yields_a_valid_stable_id(tmp_path: Path, mp4: str, name: str) -> None:
    (tmp_path / name).write_bytes(Path(mp4).read_bytes())
    (vid,) = scan_archive(tmp_path).ids
    assert check_video_id(vid) == vid and not vid.startswith(("-", "_", "."))
    assert scan_archive(tmp_path).ids == [vid]  # stable across runs


def test_one_name_in_two_places_gives_two_ids(tmp_path: Path, mp4: str) -> None:
    data = Path(mp4).read_bytes()
    for key in ("x.mp4", "x.MP4", "day1/x.mp4", "day2/x.mp4", "day2/x.MOV"):
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(data)
    write_image_sequence(str(tmp_path / "x"))  # an image folder named like the file
    scan = scan_archive(tmp_path)
    assert len(scan.videos) == 6 and len(set(scan.ids)) == 6
    assert scan.ids[scan.videos.index(str(tmp_path / "x.mp4"))] == "x"


@pytest.mark.parametrize("suffix", [".mov", ".MKV", ".avi", ".ts", ".m4v"])
def test_other_containers_read_and_seek_like_mp4(tmp_path: Path, suffix: str) -> None:
    uri = str(tmp_path / f"clip{suffix}")
    write_mp4(uri)
    assert list_videos(tmp_path) == [uri]
    assert probe(uri).frames == N_FRAMES
    sequential = [frame for _, frame in read_frames(uri)]
    for start in (0, 7, GOP, N_FRAMES - 3):
        frames = list(read_frames(uri, start, start + 4))
        assert [i for i, _ in frames] == list(range(start, min(start + 4, N_FRAMES)))
        for index, frame in frames:
            assert frame_number(frame) == index
            assert np.array_equal(frame, sequential[index])


def test_video_id_keeps_sanitised_names_distinct() -> None:
    assert video_id("/d/a b.mp4") != video_id("/d/a_b.mp4") == "a_b"
    assert video_id("/d/a b.mp4").startswith("a_b-")

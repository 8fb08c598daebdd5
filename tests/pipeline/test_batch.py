"""The Ray Data batch job end to end, on a real local Ray, real mp4 files and loopback S3.

The reference is `tgram track` on each whole video: cutting videos into clips far shorter
than their tracks must give the same tracks (exactly, under video association).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow.fs as pafs
import pytest

from tgram import storage
from tgram.api import load_detector
from tgram.data.video import VideoWriter, list_videos, read_frames, scan_archive, video_id
from tgram.eval import evaluate
from tgram.faults import ENV as CRASH_ENV
from tgram.inference import track_video
from tgram.pipeline.batch import BatchConfig, job_data_context, planned_clips, run_batch
from tgram.pipeline.ground import cumulative_offsets
from tgram.pipeline.trajectories import (
    check_video_id,
    committed_video_ids,
    read_trajectories,
    to_results,
)
from tgram.resources import SHIPPED_WEIGHTS
from tgram.synth import SynthConfig, generate_archive
from tgram.track.registration import PlatformMotion
from tgram.track.tracker import TrackerConfig

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
CLIP = dict(clip_frames=8)  # 40-frame videos: 5 clips, so most tracks span all five
STITCHED = dict(association="clip", clip_frames=20, overlap=10)


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    generate_archive(
        out, SynthConfig(videos=3, frames=40, width=320, height=224, seed=11), workers=1
    )
    return out


@pytest.fixture(scope="module")
def whole_video_tracks(archive: Path) -> dict[str, np.ndarray]:
    """`tgram track` on each whole video: the reference the batch job must reproduce."""
    tracker = TrackerConfig()
    detector = load_detector(SHIPPED_WEIGHTS, tracker)
    return {
        video_id(u): track_video(u, detector, tracker).to_results()
        for u in list_videos(archive / "videos")
    }


def _results_of(out_root: str, vid: str) -> np.ndarray:
    return to_results(read_trajectories(out_root, [vid]))


def _assert_same_tracks(batch: np.ndarray, reference: np.ndarray) -> None:
    """Video association: the same rows, ids included, as one tracker through the whole video."""
    order = np.lexsort((batch["id"], batch["frame"]))
    expected = np.lexsort((reference["id"], reference["frame"]))
    assert len(batch) == len(reference)
    for column in ("frame", "id"):
        np.testing.assert_array_equal(batch[column][order], reference[column][expected])
    for column in ("x", "y", "w", "h", "score"):
        np.testing.assert_allclose(batch[column][order], reference[column][expected], atol=1e-3)
    report = evaluate({"v": reference}, {"v": batch})
    assert report.overall.idf1 >= 0.98 and report.overall.mota >= 0.98, report.to_text()


def _upload(local: Path, uri: str) -> None:
    fs, root = storage.resolve(uri)
    pafs.copy_files(str(local), root, destination_filesystem=fs)


def test_every_pack_is_a_block_of_its_own(ray_local: None, archive: Path) -> None:
    """An actor task takes a whole block: a video's clips in one block ran in one actor one
    after another, so a long video used one actor however many the job had. Short videos
    (one clip each) travel together, one task for several."""
    todo = [{"video_id": video_id(u), "uri": u} for u in list_videos(str(archive / "videos"))]
    with job_data_context():
        clips = planned_clips(todo, BatchConfig(**CLIP), 1, {}).materialize()
        packed = planned_clips(todo, BatchConfig(clip_frames=100, actors=1), 1, {}).materialize()
    assert clips.count() == clips.num_blocks() == 3 * 5
    assert packed.count() == packed.num_blocks() == 2  # 40 + 40 frames, then 40


def test_batch_on_s3_matches_tracking_whole_videos(
    ray_local: None, s3_bucket: str, archive: Path, whole_video_tracks: dict[str, np.ndarray]
) -> None:
    _upload(archive, f"{s3_bucket}/archive")
    out = f"{s3_bucket}/trajectories"
    summary = run_batch(f"{s3_bucket}/archive/videos", out, BatchConfig(**CLIP))
    assert (summary.ok, summary.failed) == (3, 0)
    for vid, reference in whole_video_tracks.items():
        batch = _results_of(out, vid)
        assert len(np.unique(batch[["id", "frame"]])) == len(batch), (
            "a (track, frame) row is duplicated"
        )
        _assert_same_tracks(batch, reference)
    # Re-run: everything is complete, nothing is redone or duplicated.
    rows_before = read_trajectories(out).num_rows
    again = run_batch(f"{s3_bucket}/archive/videos", out, BatchConfig(**CLIP))
    assert (again.skipped, again.ok, again.rows) == (3, 0, 0)
    assert read_trajectories(out).num_rows == rows_before


def test_clip_association_stitches_clips_tracked_on_their_own(
    ray_local: None, tmp_path: Path, archive: Path, whole_video_tracks: dict[str, np.ndarray]
) -> None:
    out = str(tmp_path / "out")
    summary = run_batch(str(archive / "videos"), out, BatchConfig(**STITCHED))
    assert (summary.ok, summary.failed) == (3, 0)
    batch = {vid: _results_of(out, vid) for vid in whole_video_tracks}
    for rows in batch.values():
        assert len(np.unique(rows[["id", "frame"]])) == len(rows), (
            "a (track, frame) row is duplicated"
        )
    # Each clip's tracker starts cold, so its decisions near the score thresholds differ from
    # those of one tracker through the whole video. Measured with the shipped weights on
    # these videos: IDF1 0.85-0.96, MOTA 0.89-0.98 against it.
    report = evaluate(whole_video_tracks, batch)
    assert report.overall.idf1 >= 0.8 and report.overall.mota >= 0.85, report.to_text()
    # The weak-track filter judges stitched tracks whole (the actors send every tracklet)
    floor = TrackerConfig().min_track_score
    for rows in batch.values():
        ids, inverse = np.unique(rows["id"], return_inverse=True)
        means = np.bincount(inverse, rows["score"]) / np.bincount(inverse)
        assert floor > 0 and len(ids) and means.min() >= floor - 1e-6
    # Stabilised positions: each row's platform offset (x - x_stab) is the video's own
    # cumulative shift at its frame, whatever clip tracked it; frame to frame it follows the
    # true shift (the sum drifts: a per-video bias of up to 0.1 px a frame, see registration).
    for uri in list_videos(archive / "videos"):
        vid = video_id(uri)
        motion = PlatformMotion()
        offsets = cumulative_offsets(np.array([motion.shift(f, i) for i, f in read_frames(uri)]))
        rows = read_trajectories(out, [vid])
        frame = rows["frame"].to_numpy()
        offset = np.stack(
            [
                rows["x"].to_numpy() - rows["x_stab"].to_numpy(),
                rows["y"].to_numpy() - rows["y_stab"].to_numpy(),
            ],
            axis=1,
        )
        np.testing.assert_allclose(offset, offsets[frame], atol=1e-3)
        meta = json.loads((archive / "meta" / f"{vid}.json").read_text())
        errors = np.diff(offsets, axis=0) - np.diff(meta["platform_shift_px"], axis=0)
        assert np.median(np.linalg.norm(errors, axis=1)) < 0.15


def test_bad_videos_become_failure_rows(ray_local: None, tmp_path: Path, archive: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    good = sorted((archive / "videos").glob("*.mp4"))[0]
    (videos / good.name).write_bytes(good.read_bytes())
    (videos / "empty.mp4").write_bytes(b"")
    (videos / "truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (videos / "not_a_video.mp4").write_bytes(b"this is a text file\n" * 100)
    with VideoWriter(str(videos / "one_frame.mp4"), fps=10, width=64, height=64) as writer:
        writer.write(np.zeros((64, 64, 3), np.uint8))
    out = str(tmp_path / "out")
    # The actor holds both CPUs of the local Ray: probing and planning must still run.
    summary = run_batch(str(videos), out, BatchConfig(**CLIP, cpus_per_actor=2))
    assert summary.ok + summary.failed == 5
    failures = _table(out, "_failures")
    failed = set(failures["video_id"].to_pylist())
    assert {"empty", "truncated", "not_a_video"} <= failed
    assert good.stem not in failed and "one_frame" not in failed  # a 1-frame video is valid
    assert all(failures["error"].to_pylist()), "every failure names its reason"
    assert read_trajectories(out, [good.stem]).num_rows > 0


def test_weights_that_fail_to_load_end_the_job_with_their_own_error(
    ray_local: None, tmp_path: Path, archive: Path
) -> None:
    """A config that passes the driver's read of the weights but does not fit their tensors
    stops the job before any actor starts, with the file named."""
    import torch

    state = torch.load(SHIPPED_WEIGHTS, weights_only=True)
    state["config"]["emb_dim"] //= 2
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match=r"mismatch\.pt: weights do not match the config"):
        run_batch(
            str(archive / "videos"),
            str(tmp_path / "out"),
            BatchConfig(**CLIP, weights=str(tmp_path / "mismatch.pt")),
        )


def test_any_file_name_and_a_bad_meta_file_stay_per_video(
    ray_local: None, tmp_path: Path, archive: Path
) -> None:
    good = sorted((archive / "videos").glob("*.mp4"))[0].read_bytes()
    videos = tmp_path / "in" / "videos"
    names = ["_x.mp4", "-y.mp4", "village vidéo.mp4", "a/v.mp4", "b/v.MP4", "bad meta.mp4"]
    for name in names:
        (videos / name).parent.mkdir(parents=True, exist_ok=True)
        (videos / name).write_bytes(good)
    (videos / "notes.txt").write_text("not a video")
    (tmp_path / "in" / "meta").mkdir()
    (tmp_path / "in" / "meta" / "bad meta.json").write_text("{not json")
    out = str(tmp_path / "out")
    summary = run_batch(str(videos), out, BatchConfig(clip_frames=40, cpus_per_actor=2))
    assert (summary.ok, summary.failed, summary.ignored) == (5, 1, 1)
    scan = scan_archive(videos)
    assert len(set(scan.ids)) == 6 and all(check_video_id(v) for v in scan.ids)
    bad = scan.ids[scan.videos.index(str(videos / "bad meta.mp4"))]
    rows = read_trajectories(out)
    assert set(rows["video_id"].to_pylist()) == set(scan.ids) - {bad}
    failures = _table(out, "_failures").to_pylist()
    assert [(f["stage"], "bad video meta JSON" in f["error"]) for f in failures] == [
        ("finalize", True)
    ]
    again = run_batch(str(videos), out, BatchConfig(clip_frames=40, cpus_per_actor=2))
    assert (again.skipped, again.ok, again.failed) == (5, 0, 1)
    assert read_trajectories(out).num_rows == rows.num_rows


def test_a_clip_that_kills_its_actor_every_time_fails_only_its_video(
    ray_local: None, tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poison clip (the actor process dies on it: a segfault or an OOM kill look alike to
    Ray) is retried max_restarts times, then its video fails; the job finishes."""
    videos = sorted(list_videos(archive / "videos"))[:2]
    poisoned = video_id(videos[0])
    monkeypatch.setenv(CRASH_ENV, f"clip:{poisoned}:1")
    out = str(tmp_path / "out")
    summary = run_batch(
        str(archive / "videos"), out, BatchConfig(clip_frames=20, max_restarts=1, cpus_per_actor=2)
    )
    assert (summary.ok, summary.failed) == (2, 1)
    failure = _table(out, "_failures").to_pylist()
    assert [(f["video_id"], f["stage"]) for f in failure] == [(poisoned, "actor")]
    assert "died on each of 2 attempts" in failure[0]["error"]
    assert poisoned not in set(read_trajectories(out)["video_id"].to_pylist())


def test_a_short_video_that_kills_its_actor_fails_alone_not_with_its_pack(
    ray_local: None, tmp_path: Path, archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 100-frame clips the archive's first two 40-frame videos share a task (see
    test_every_pack_is_a_block_of_its_own). Run first on every retry, the poisoned video would
    take its healthy pack-mate down with it each time until the pack is dropped."""
    poisoned = video_id(sorted(list_videos(archive / "videos"))[0])
    monkeypatch.setenv(CRASH_ENV, f"clip:{poisoned}:0")
    out = str(tmp_path / "out")
    summary = run_batch(
        str(archive / "videos"), out, BatchConfig(clip_frames=100, max_restarts=1, cpus_per_actor=2)
    )
    assert (summary.actors, summary.ok, summary.failed) == (1, 2, 1)
    failure = _table(out, "_failures").to_pylist()
    assert [(f["video_id"], f["stage"]) for f in failure] == [(poisoned, "actor")]
    assert "died on each of 2 attempts" in failure[0]["error"]


def _table(out_root: str, name: str):
    import pyarrow.dataset as ds

    fs, path = storage.resolve(out_root)
    return ds.dataset(f"{path}/{name}", filesystem=fs, format="parquet").to_table()


def _kill_session(sid: int) -> None:
    """SIGKILL every process of a session and wait until they are gone: Ray's workers may sit
    in process groups of their own, which a killpg of the driver's misses, and an associator
    left alive for a moment can still commit a video after the kill."""

    def session_of(pid: int) -> int | None:
        try:
            return os.getsid(pid)
        except OSError:
            return None

    procs = [p for p in psutil.process_iter() if session_of(p.pid) == sid]
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(procs, timeout=30)


def test_killed_job_resumes_without_redoing_finished_videos(tmp_path: Path, archive: Path) -> None:
    out = tmp_path / "out"
    argv = [
        sys.executable,
        "-m",
        "jobs.track",
        str(archive / "videos"),
        str(out),
        "--clip-frames",
        "8",
    ]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    job = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = out / "_videos"
    try:
        deadline = time.monotonic() + 240
        while not (records.exists() and committed_video_ids(str(out))):
            assert job.poll() is None, "job ended before it could be killed"
            assert time.monotonic() < deadline, "no video finished in time"
            time.sleep(0.2)
    finally:
        _kill_session(job.pid)
        job.wait()
    done = committed_video_ids(str(out))
    finished = {f"{v}.parquet": (records / f"{v}.parquet").stat().st_mtime_ns for v in done}
    assert 1 <= len(finished) < 3
    rerun = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert {
        p.name: p.stat().st_mtime_ns for p in records.iterdir() if p.name in finished
    } == finished
    assert len(list(records.iterdir())) == 3
    assert f"{len(finished)} already done" in rerun.stdout


def test_actor_killed_mid_job_gives_identical_output(
    ray_local: None, tmp_path: Path, archive: Path
) -> None:
    clean, faulty = str(tmp_path / "clean"), str(tmp_path / "faulty")
    run_batch(str(archive / "videos"), clean, BatchConfig(**CLIP))
    killed: list[int] = []

    def kill_tracker_actor_once() -> None:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for proc in psutil.process_iter(["pid", "name"]):
                if "ClipTracker)).submit" in (proc.info["name"] or ""):  # busy with a clip
                    proc.kill()
                    killed.append(proc.info["pid"])
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_tracker_actor_once)
    killer.start()
    summary = run_batch(str(archive / "videos"), faulty, BatchConfig(**CLIP))
    killer.join()
    assert killed, "the tracker actor process was never found"
    assert (summary.ok, summary.failed) == (3, 0)
    for vid in (video_id(u) for u in list_videos(archive / "videos")):
        a, b = read_trajectories(clean, [vid]), read_trajectories(faulty, [vid])
        assert a.num_rows == b.num_rows
        for column in ("frame", "track_id", "x", "y", "w", "h"):
            np.testing.assert_allclose(b[column].to_numpy(), a[column].to_numpy(), atol=1e-3)

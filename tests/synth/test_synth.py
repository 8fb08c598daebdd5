from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from pyproj import Transformer

from tgram import storage
from tgram.config import ConfigError, from_dict, load_config
from tgram.data.formats import read_gt
from tgram.synth import SynthConfig, SyntheticVideo, generate_archive
from tgram.synth.meta import CITIES
from tgram.synth.world import MARGIN

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "synth"
TINY = SynthConfig(width=256, height=192, frames=12, videos=1, style="fixed")
"""The fixed style: its sensor settings are the config's (the randomised style's are drawn,
see test_style.py)."""
QUIET = replace(
    TINY, jitter_px=0.0, noise_sigma=0.0, blur_sigma=0.0, brightness_drift=0.0, cloud_puffs=0.0
)
"""No sensor effects and no clouds: frames are the scene plus the objects, pixel for pixel."""


def decode(path: Path) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)], float(
            stream.average_rate
        )


def test_default_yaml_equals_the_dataclass_defaults() -> None:
    assert load_config(CONFIGS / "default.yaml", SynthConfig) == SynthConfig()


@pytest.mark.parametrize("name", ["small.yaml", "airmot.yaml"])
def test_shipped_configs_load(name: str) -> None:
    assert isinstance(load_config(CONFIGS / name, SynthConfig), SynthConfig)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"width": 255}, "even width and height"),
        ({"height": 32}, "must be >= 64"),
        ({"frames": 0}, "frames must be >= 1"),
        ({"density": 0}, "density must be > 0"),
        ({"classes": ["ship", "bus"]}, "unknown class 'bus'"),
        ({"classes": []}, "at least one"),
        ({"layout": "tiff"}, "must be one of 'mp4', 'airmot'"),
        ({"test_fraction": 1.0}, "test_fraction must be in [0, 1)"),
        ({"jitter_px": 5.0}, "jitter_px must be in"),
        ({"crf": 60}, "crf must be in [0, 51]"),
        ({"preset": "turbo"}, "must be one of 'ultrafast', 'superfast'"),
    ],
)
def test_invalid_settings_are_rejected(settings: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_dict(SynthConfig, settings, source="synth.yaml")
    assert fragment in str(err.value)


def test_same_seed_same_archive_for_any_number_of_workers(tmp_path: Path) -> None:
    cfg = SynthConfig(width=128, height=96, frames=6, videos=2, seed=5)
    runs = {name: tmp_path / name for name in ("a", "b", "parallel")}
    for name, out in runs.items():
        assert generate_archive(out, cfg, workers=2 if name == "parallel" else 1) == [
            "synth_0000",
            "synth_0001",
        ]
    for video in ("synth_0000", "synth_0001"):
        first = runs["a"]
        for other in (runs["b"], runs["parallel"]):
            assert (first / "gt" / f"{video}.txt").read_bytes() == (
                other / "gt" / f"{video}.txt"
            ).read_bytes()
            assert (first / "meta" / f"{video}.json").read_bytes() == (
                other / "meta" / f"{video}.json"
            ).read_bytes()
            assert (first / "speeds" / f"{video}.csv").read_bytes() == (
                other / "speeds" / f"{video}.csv"
            ).read_bytes()
            a, _ = decode(first / "videos" / f"{video}.mp4")
            b, _ = decode(other / "videos" / f"{video}.mp4")
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    generate_archive(tmp_path / "other_seed", replace(cfg, seed=6), workers=1)
    assert (tmp_path / "other_seed/gt/synth_0000.txt").read_bytes() != (
        runs["a"] / "gt/synth_0000.txt"
    ).read_bytes()


def test_mp4_layout_writes_decodable_video_gt_and_meta(tmp_path: Path) -> None:
    cfg = replace(TINY, frames=8, fps=12.5)
    progress: list[int] = []
    generate_archive(tmp_path, cfg, progress=progress.append, workers=1)
    assert progress == [1] * 8
    frames, fps = decode(tmp_path / "videos/synth_0000.mp4")
    assert len(frames) == 8 and frames[0].shape == (192, 256, 3) and fps == 12.5
    # the encoded frames are the rendered ones (RGB order kept, only compression loss)
    rendered = [f.image for f in SyntheticVideo(cfg, 0).frames()]
    assert np.abs(frames[3].astype(int) - rendered[3]).mean() < 4
    gt = read_gt(tmp_path / "gt/synth_0000.txt")
    assert set(gt["frame"].tolist()) == set(range(8))
    assert set(gt["cls"].tolist()) <= {1, 2, 3}
    assert (
        (gt["mark"] == 1).all() and (gt["visibility"] > 0).all() and (gt["visibility"] <= 1).all()
    )
    meta = json.loads((tmp_path / "meta/synth_0000.json").read_text())
    assert {k: meta[k] for k in ("video_id", "fps", "width", "height", "frames", "gsd_m")} == {
        "video_id": "synth_0000",
        "fps": 12.5,
        "width": 256,
        "height": 192,
        "frames": 8,
        "gsd_m": 1.0,
    }
    assert datetime.fromisoformat(meta["start_time"]).utcoffset() == timezone.utc.utcoffset(None)
    x0, gsd, rot1, y0, rot2, neg_gsd = meta["geotransform"]
    assert (gsd, rot1, rot2, neg_gsd) == (1.0, 0.0, 0.0, -1.0)
    # the frame centre lies in the UTM zone the CRS names, near one of the port cities
    lon, lat = Transformer.from_crs(meta["crs"], "EPSG:4326", always_xy=True).transform(
        x0 + 128, y0 - 96
    )
    epsg = int(meta["crs"].split(":")[1])
    assert epsg == (32600 if lat >= 0 else 32700) + int((lon + 180) // 6) + 1
    assert min(math.hypot(lon - c_lon, lat - c_lat) for _, c_lon, c_lat in CITIES) < 0.1


def test_airmot_layout_splits_sequences(tmp_path: Path) -> None:
    cfg = replace(TINY, frames=3, videos=4, layout="airmot", test_fraction=0.25, width=255)
    generate_archive(tmp_path, cfg, workers=1)
    for split, seqs in (
        ("train", ["synth_0000", "synth_0001", "synth_0002"]),
        ("test", ["synth_0003"]),
    ):
        assert sorted(p.name for p in (tmp_path / "images" / split).iterdir()) == seqs
    seq = tmp_path / "images/test/synth_0003"
    assert sorted(p.name for p in (seq / "img").iterdir()) == [
        "000001.jpg",
        "000002.jpg",
        "000003.jpg",
    ]
    assert json.loads((seq / "meta.json").read_text())["frames"] == 3
    assert set(read_gt(seq / "gt/gt.txt")["frame"].tolist()) == {0, 1, 2}
    jpeg = cv2.cvtColor(cv2.imread(str(seq / "img/000002.jpg")), cv2.COLOR_BGR2RGB)
    rendered = [f.image for f in SyntheticVideo(cfg, 3).frames()][1]
    assert jpeg.shape == (192, 255, 3)
    assert np.abs(jpeg.astype(int) - rendered).mean() < 4


def _box_pixels(row: np.void) -> tuple[int, int, int, int]:
    """Integer pixel extent [x0, x1) x [y0, y1) of a gt box (exact with jitter off)."""
    return round(row["x"]), round(row["x"] + row["w"]), round(row["y"]), round(row["y"] + row["h"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vehicle_boxes_are_the_tight_boxes_of_the_drawn_pixels(seed: int) -> None:
    video = SyntheticVideo(replace(QUIET, classes=("vehicle",), frames=6, seed=seed), 0)
    background = video.scene.background[MARGIN : MARGIN + 192, MARGIN : MARGIN + 256]
    checked = 0
    for frame in video.frames():
        changed = (frame.image != background).any(axis=2)
        near_a_box = np.zeros_like(changed)
        # a car whose silhouette is just outside the frame has no row, but its anti-aliased
        # fringe may reach 2 px into it
        near_a_box[:2] = near_a_box[-2:] = near_a_box[:, :2] = near_a_box[:, -2:] = True
        for row in frame.gt:
            x0, x1, y0, y1 = _box_pixels(row)
            near_a_box[max(y0 - 2, 0) : y1 + 2, max(x0 - 2, 0) : x1 + 2] = (
                True  # + anti-aliased fringe
            )
            inner = x0 > 0 and y0 > 0 and x1 < 256 and y1 < 192
            if row["visibility"] == 1 and inner:
                box = changed[y0:y1, x0:x1]
                assert box[0].any() and box[-1].any() and box[:, 0].any() and box[:, -1].any(), row
                checked += 1
        assert not (changed & ~near_a_box).any(), "drawn pixels outside every gt box"
    assert checked > 20


def test_every_box_lies_in_the_frame_and_covers_drawn_pixels() -> None:
    for seed in range(4):
        video = SyntheticVideo(replace(QUIET, frames=4, seed=seed), seed % 2)
        background = video.scene.background[MARGIN : MARGIN + 192, MARGIN : MARGIN + 256]
        for frame in video.frames():
            gt = frame.gt
            assert (gt["w"] > 0).all() and (gt["h"] > 0).all()
            assert (gt["x"] >= 0).all() and (gt["y"] >= 0).all()
            assert (gt["x"] + gt["w"] <= 256).all() and (gt["y"] + gt["h"] <= 192).all()
            changed = (frame.image != background).any(axis=2)
            for row in gt:
                x0, x1, y0, y1 = _box_pixels(row)
                assert changed[y0:y1, x0:x1].any(), row


def test_jitter_moves_frames_and_boxes_together() -> None:
    still = SyntheticVideo(replace(QUIET, frames=6), 0).frames()
    shaky = SyntheticVideo(replace(QUIET, frames=6, jitter_px=2.0), 0).frames()
    shifts = set()
    for a, b in zip(still, shaky, strict=True):
        inner = {
            r["id"]: r
            for r in a.gt
            if r["x"] > 3 and r["x"] + r["w"] < 253 and r["y"] > 3 and r["y"] + r["h"] < 189
        }
        pairs = [(inner[r["id"]], r) for r in b.gt if r["id"] in inner]
        dx = {round(float(q["x"] - p["x"]), 3) for p, q in pairs}
        dy = {round(float(q["y"] - p["y"]), 3) for p, q in pairs}
        # every box of the frame moves by the frame's one shift, at most 2 px, and keeps its size
        assert len(pairs) > 10 and len(dx) == 1 and len(dy) == 1
        assert max(abs(*dx), abs(*dy)) <= 2.0
        assert all(p["w"] == q["w"] and p["h"] == q["h"] for p, q in pairs)
        shifts.add((*dx, *dy))
    assert len(shifts) > 1


def test_clouds_only_lower_visibility() -> None:
    clear = [f.gt for f in SyntheticVideo(replace(QUIET, frames=10), 0).frames()]
    cloudy = [f.gt for f in SyntheticVideo(replace(QUIET, frames=10, cloud_puffs=8.0), 0).frames()]
    lowered = 0
    for a, b in zip(clear, cloudy, strict=True):
        seen = {r["id"]: r for r in a}
        for row in b:
            assert row["id"] in seen  # clouds hide, they never add objects
            assert (row["x"], row["y"], row["w"], row["h"]) == tuple(
                seen[row["id"]][k] for k in ("x", "y", "w", "h")
            )
            assert row["visibility"] <= seen[row["id"]]["visibility"]
        lowered += sum(r["visibility"] < seen[r["id"]]["visibility"] for r in b) + len(a) - len(b)
    assert lowered > 0


@pytest.mark.parametrize(
    ("classes", "gt_ids"), [(("ship",), {2}), (("airplane", "vehicle"), {1, 3})]
)
def test_only_the_chosen_classes_are_drawn(classes: tuple[str, ...], gt_ids: set[int]) -> None:
    cfg = replace(QUIET, width=320, height=320, frames=2, classes=classes)
    gt = np.concatenate([f.gt for f in SyntheticVideo(cfg, 0).frames()])
    assert set(gt["cls"].tolist()) == gt_ids


def test_archive_can_be_written_to_s3(s3_bucket: str) -> None:
    cfg = replace(TINY, width=128, height=96, frames=3)
    generate_archive(storage.join(s3_bucket, "synth"), cfg, workers=1)
    gt = read_gt(storage.join(s3_bucket, "synth/gt/synth_0000.txt"))
    assert set(gt["frame"].tolist()) == {0, 1, 2}
    assert storage.exists(storage.join(s3_bucket, "synth/videos/synth_0000.mp4"))
    assert (
        json.loads(storage.read_bytes(storage.join(s3_bucket, "synth/meta/synth_0000.json")))[
            "frames"
        ]
        == 3
    )

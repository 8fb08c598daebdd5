"""The randomised style of `tgram synth` (domain randomisation) and the fixed style it replaced."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest

from tgram.config import ConfigError, from_dict
from tgram.synth import SynthConfig, SyntheticVideo, generate_archive
from tgram.synth.config import BIOMES, StyleRanges
from tgram.synth.palette import LEGACY_GRADING, LEGACY_PALETTE
from tgram.synth.sensor import blur_kernel
from tgram.synth.sprites import CAR_COLOURS, VEHICLE_KINDS
from tgram.synth.style import draw_style, fixed_style

TINY = SynthConfig(width=192, height=128, frames=3, videos=1, seed=4)
"""Randomised (the default style)."""

RANGED = (
    "gsd_m",
    "blur_sigma",
    "noise_sigma",
    "contrast",
    "gamma",
    "haze",
    "desaturation",
    "white_balance",
    "tint",
    "crf",
    "jitter_px",
    "drift_px",
    "brightness_drift",
    "shadow_ratio",
    "density",
)
"""The meta "style" keys drawn from StyleRanges fields of the same name."""


def styles(cfg: SynthConfig, n: int) -> list[dict]:
    return [SyntheticVideo(replace(cfg, frames=1), i).meta["style"] for i in range(n)]


def test_every_video_draws_its_own_style_and_records_it_in_its_meta(tmp_path: Path) -> None:
    generate_archive(tmp_path, replace(TINY, videos=3), workers=1)
    metas = [json.loads((tmp_path / f"meta/synth_{i:04d}.json").read_text()) for i in range(3)]
    recorded = [m["style"] for m in metas]
    assert all(s["name"] == "randomised" for s in recorded)
    for key in ("gsd_m", "blur_sigma", "noise_sigma", "contrast", "gamma", "haze"):
        assert len({s[key] for s in recorded}) == 3, key
    for meta in metas:  # the georeference is at the drawn GSD
        gsd = meta["style"]["gsd_m"]
        assert meta["gsd_m"] == gsd and meta["geotransform"][1] == gsd
        assert meta["geotransform"][5] == -gsd


def test_a_videos_style_depends_on_the_seed_and_its_index_only() -> None:
    first = styles(TINY, 3)
    assert styles(TINY, 3) == first
    # more videos, or other settings outside the style, leave the style of each video alone
    assert styles(replace(TINY, videos=7, frames=9, cloud_puffs=4.0), 3) == first
    assert styles(replace(TINY, seed=5), 3) != first


def test_style_draws_stay_inside_the_configured_ranges() -> None:
    for ranges in (
        StyleRanges(),
        StyleRanges(gsd_m=(0.8, 0.9), crf=(30, 31), noise_sigma=(0.0, 1.0), biomes=("arid",)),
    ):
        cfg = replace(TINY, style_ranges=ranges)
        seen_biomes = set()
        for seed in range(60):
            style = draw_style(cfg, np.random.default_rng(seed))
            recorded = style.meta((1.0, 0.0), style.shadow_ratio or 0.0)
            for name in RANGED:
                lo, hi = getattr(ranges, name)
                assert lo - 1e-3 <= recorded[name] <= hi + 1e-3, (name, recorded[name])
            seen_biomes.add(style.biome)
            assert style.scale == pytest.approx(0.5 / style.gsd_m)
        assert seen_biomes <= set(ranges.biomes)
        assert len(seen_biomes) == len(ranges.biomes)  # 60 draws see every biome


def test_fixed_style_is_the_config_and_ignores_the_ranges() -> None:
    cfg = replace(TINY, style="fixed")
    style = fixed_style(cfg)
    assert (style.gsd_m, style.blur_sigma, style.noise_sigma, style.jitter_px, style.crf) == (
        1.0,
        0.6,
        2.0,
        1.5,
        26,
    )
    assert (style.scale, style.speed, style.drift_px, style.density) == (1.0, 1.0, 0.0, 1.0)
    assert style.grading is LEGACY_GRADING and style.palette is LEGACY_PALETTE
    assert draw_style(cfg, np.random.default_rng(0)) == style
    wild = replace(cfg, style_ranges=StyleRanges(gsd_m=(2.0, 3.0), biomes=("winter",)))
    a, b = SyntheticVideo(cfg, 0), SyntheticVideo(wild, 0)
    assert a.meta == b.meta and a.meta["style"]["name"] == "fixed" and a.meta["gsd_m"] == 1.0
    for x, y in zip(a.frames(), b.frames(), strict=True):
        assert np.array_equal(x.image, y.image) and np.array_equal(x.gt, y.gt)


def test_fixed_style_keeps_the_old_object_sizes() -> None:
    cfg = replace(TINY, width=256, height=192, frames=1, classes=("vehicle",), style="fixed")
    gt = next(iter(SyntheticVideo(cfg, 0).frames())).gt
    long_side = np.maximum(gt["w"], gt["h"])[gt["visibility"] == 1]
    assert len(long_side) > 10 and 8 <= np.median(long_side) <= 13  # 8-12 px cars


def _vehicle_lengths(gsd: float) -> np.ndarray:
    """Long side of the gt boxes of fully visible vehicles inside the frame, px."""
    out = []
    for seed in range(3):
        cfg = SynthConfig(
            width=320,
            height=256,
            frames=1,
            seed=seed,
            classes=("vehicle",),
            cloud_puffs=0.0,
            style_ranges=StyleRanges(gsd_m=(gsd, gsd)),
        )
        gt = next(iter(SyntheticVideo(cfg, 0).frames())).gt
        inner = (
            (gt["visibility"] == 1)
            & (gt["x"] > 0)
            & (gt["y"] > 0)
            & (gt["x"] + gt["w"] < 320)
            & (gt["y"] + gt["h"] < 256)
        )
        out.append(np.maximum(gt["w"], gt["h"])[inner])
    return np.concatenate(out)


def test_gsd_sets_the_objects_pixel_sizes() -> None:
    fine, coarse = _vehicle_lengths(0.5), _vehicle_lengths(1.5)
    assert len(fine) > 50 and len(coarse) > 3 * len(fine)  # the same area holds more vehicles
    # a typical vehicle is ~4.5 m: 9 px at 0.5 m/px, 3 px at 1.5 m/px (boxes are whole pixels)
    assert abs(np.median(fine) - 4.5 / 0.5) <= 1.0
    assert abs(np.median(coarse) - 4.5 / 1.5) <= 1.0
    assert 2.5 <= fine.mean() / coarse.mean() <= 4.0


def test_randomised_vehicle_boxes_are_the_tight_boxes_of_the_drawn_pixels() -> None:
    """As test_synth's test for the fixed style: no sensor effects, no clouds, no shadows."""
    quiet = StyleRanges(
        blur_sigma=(0.0, 0.0),
        noise_sigma=(0.0, 0.0),
        jitter_px=(0.0, 0.0),
        drift_px=(0.0, 0.0),
        brightness_drift=(0.0, 0.0),
        shadow_ratio=(0.0, 0.0),
        gsd_m=(0.6, 1.0),
    )
    checked = 0
    for seed in range(3):
        cfg = replace(TINY, width=256, height=192, frames=3, seed=seed, classes=("vehicle",))
        video = SyntheticVideo(replace(cfg, cloud_puffs=0.0, style_ranges=quiet), 0)
        m = video.scene.margin
        background = video.scene.background[m : m + 192, m : m + 256]
        for frame in video.frames():
            changed = (frame.image != background).any(axis=2)
            near_a_box = np.zeros_like(changed)
            near_a_box[:2] = near_a_box[-2:] = near_a_box[:, :2] = near_a_box[:, -2:] = True
            for row in frame.gt:
                x0, x1 = round(row["x"]), round(row["x"] + row["w"])
                y0, y1 = round(row["y"]), round(row["y"] + row["h"])
                near_a_box[max(y0 - 2, 0) : y1 + 2, max(x0 - 2, 0) : x1 + 2] = True
                if row["visibility"] == 1 and x0 > 0 and y0 > 0 and x1 < 256 and y1 < 192:
                    box = changed[y0:y1, x0:x1]
                    assert box[0].any() and box[-1].any() and box[:, 0].any() and box[:, -1].any()
                    checked += 1
            assert not (changed & ~near_a_box).any(), "drawn pixels outside every gt box"
    assert checked > 50


def test_jitter_and_drift_move_frames_and_boxes_together() -> None:
    still = StyleRanges(jitter_px=(0.0, 0.0), drift_px=(0.0, 0.0), noise_sigma=(0.0, 0.0))
    shaky = replace(still, jitter_px=(2.5, 2.5), drift_px=(6.0, 6.0))
    cfg = replace(TINY, width=256, height=192, frames=8, cloud_puffs=0.0)
    a = list(SyntheticVideo(replace(cfg, style_ranges=still), 0).frames())
    b = list(SyntheticVideo(replace(cfg, style_ranges=shaky), 0).frames())
    shifts = []
    for p, q in zip(a, b, strict=True):
        inner = {
            r["id"]: r
            for r in p.gt
            if r["x"] > 10 and r["x"] + r["w"] < 246 and r["y"] > 10 and r["y"] + r["h"] < 182
        }
        pairs = [(inner[r["id"]], r) for r in q.gt if r["id"] in inner]
        dx = {round(float(r["x"] - s["x"]), 3) for s, r in pairs}
        dy = {round(float(r["y"] - s["y"]), 3) for s, r in pairs}
        assert len(pairs) > 5 and len(dx) == 1 and len(dy) == 1
        shifts.append((dx.pop(), dy.pop()))
    assert max(abs(x) + abs(y) for x, y in shifts) > 1.0
    assert all(max(abs(x), abs(y)) <= 2.5 + 0.53 * 6 for x, y in shifts)


def test_shadows_darken_the_ground_but_are_not_part_of_the_boxes() -> None:
    sunny = StyleRanges(
        shadow_ratio=(1.2, 1.2), blur_sigma=(0.0, 0.0), noise_sigma=(0.0, 0.0), gsd_m=(0.5, 0.5)
    )
    cfg = replace(TINY, width=256, height=192, frames=1, classes=("vehicle",), cloud_puffs=0.0)
    plain = replace(sunny, shadow_ratio=(0.0, 0.0))
    a = next(iter(SyntheticVideo(replace(cfg, style_ranges=sunny), 0).frames()))
    b = next(iter(SyntheticVideo(replace(cfg, style_ranges=plain), 0).frames()))
    assert np.array_equal(a.gt, b.gt)
    assert a.image.astype(int).sum() < b.image.astype(int).sum()


def test_vehicle_types_and_colours_are_realistic() -> None:
    shares = {kind.name: kind.share for kind in VEHICLE_KINDS}
    assert set(shares) == {"car", "van", "truck", "bus"} and sum(shares.values()) == pytest.approx(
        1
    )
    assert shares["car"] > 0.7
    neutral = sum(w for (r, g, b), w in CAR_COLOURS if max(r, g, b) - min(r, g, b) < 12)
    assert sum(w for _, w in CAR_COLOURS) == pytest.approx(1) and 0.7 <= neutral <= 0.8


def test_blur_kernel_grows_with_sigma() -> None:
    assert blur_kernel(0.6) == (3, 3)  # the fixed style's, unchanged
    assert blur_kernel(0.8) == (5, 5) and blur_kernel(1.5) == (9, 9)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"style": "wild"}, "must be one of 'fixed', 'randomised'"),
        ({"style_ranges": {"gsd_m": [1.5, 0.5]}}, "style_ranges.gsd_m must be [low, high]"),
        ({"style_ranges": {"crf": [20, 60]}}, "style_ranges.crf must be"),
        ({"style_ranges": {"biomes": ["lunar"]}}, "must be one of 'temperate'"),
        ({"style_ranges": {"noise": [0, 1]}}, "unknown key 'style_ranges.noise'"),
        ({"style_ranges": {"jitter_px": [0, 6], "drift_px": [0, 8]}}, "the world's margin"),
    ],
)
def test_invalid_style_settings_are_rejected(settings: dict, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        from_dict(SynthConfig, settings, source="synth.yaml")
    assert fragment in str(err.value)


def test_every_range_is_documented_in_the_default_yaml() -> None:
    text = (Path(__file__).resolve().parents[2] / "configs/synth/default.yaml").read_text()
    for f in fields(StyleRanges):
        assert f"  {f.name}: " in text, f.name
    assert set(BIOMES) == {"temperate", "arid", "urban", "winter", "tropical"}

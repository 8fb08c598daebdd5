from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from tgram.data.video import read_frames
from tgram.detect import context_frames, detect_frames
from tgram.inference import Detector
from tgram.model.config import ModelConfig
from tgram.model.tgram import TGraM
from tgram.synth import SynthConfig, generate_archive
from tgram.track.registration import PlatformMotion, RegistrationConfig

PAD = 32


def ground(seed: int = 0, size: tuple[int, int] = (320, 480)) -> np.ndarray:
    """A band-limited grey 'ground' (noise at several scales through a 1 px optics blur),
    PAD px larger than a frame on every side."""
    rng = np.random.default_rng(seed)
    full = (size[0] + 2 * PAD, size[1] + 2 * PAD)
    layers = [
        cv2.resize(rng.uniform(0, 255, (full[0] // s, full[1] // s)), full[::-1], cv2.INTER_CUBIC)
        for s in (4, 16, 64)
    ]
    return cv2.GaussianBlur(sum(layers) / 3, (0, 0), 1.0)


def view(scene: np.ndarray, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """The RGB frame of `scene` with its content moved by (dx, dy): an exact sub-pixel
    translation (Fourier phase ramp), as a platform shift is, then cropped to the frame."""
    fy = np.fft.fftfreq(scene.shape[0])[:, None]
    fx = np.fft.fftfreq(scene.shape[1])[None, :]
    ramp = np.exp(-2j * np.pi * (fx * dx + fy * dy))
    moved = np.real(np.fft.ifft2(np.fft.fft2(scene) * ramp))[PAD:-PAD, PAD:-PAD]
    return np.repeat(np.clip(moved, 0, 255)[..., None], 3, axis=2).astype(np.uint8)


@pytest.mark.parametrize("shift", [(0.3, -0.45), (-1.7, 2.2), (7.4, -5.6)])
def test_recovers_subpixel_and_large_shifts(shift: tuple[float, float]) -> None:
    motion, scene = PlatformMotion(), ground()
    assert motion.shift(view(scene), 0).tolist() == [0.0, 0.0]  # the first frame has no predecessor
    np.testing.assert_allclose(motion.shift(view(scene, *shift), 1), shift, atol=0.05)


def test_traffic_barely_pulls_the_estimate() -> None:
    """60 cars (5x9 px, ~2 % of the pixels) driving 3 px a frame both ways along a diagonal
    band: a single whole-frame least-squares fit was pulled ~0.2 px; the median over tiles
    keeps the tiles of static ground (~0.03 px)."""
    image, moved = view(ground(1)), view(ground(1), 0.6, 0.25)
    for k in range(60):
        x, y, step = 20 + 7 * k, 30 + 4 * k, 3 if k % 2 else -3
        tone = (170, 170, 170) if k % 3 else (60, 60, 60)
        cv2.rectangle(image, (x, y), (x + 4, y + 8), tone, -1)
        cv2.rectangle(moved, (x + step, y), (x + step + 4, y + 8), tone, -1)
    motion = PlatformMotion()
    motion.shift(image, 0)
    np.testing.assert_allclose(motion.shift(moved, 1), (0.6, 0.25), atol=0.06)


def test_disabled_and_resized_frames_give_no_shift() -> None:
    off = PlatformMotion(RegistrationConfig(enabled=False))
    off.shift(view(ground()), 0)
    assert off.shift(view(ground(), 2.0, 0.0), 1).tolist() == [0.0, 0.0]
    on = PlatformMotion()
    on.shift(view(ground()), 0)
    assert on.shift(view(ground(size=(160, 240))), 1).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="downscale"):
        RegistrationConfig(downscale=0)
    with pytest.raises(ValueError, match="keyframe_interval"):
        RegistrationConfig(keyframe_interval=0)


def test_matches_the_renderers_platform_shift(tmp_path: Path) -> None:
    """Jittering, drifting synthetic video (blur, noise, H.264): the estimates follow the
    renderer's true per-frame shift to a tenth of a pixel."""
    cfg = SynthConfig(width=384, height=256, frames=10, videos=1, seed=11)
    generate_archive(tmp_path, cfg, workers=1)
    truth = np.diff(
        json.loads((tmp_path / "meta" / "synth_0000.json").read_text())["platform_shift_px"], axis=0
    )
    motion = PlatformMotion()
    estimates = np.array(
        [motion.shift(f, i) for i, f in read_frames(tmp_path / "videos" / "synth_0000.mp4")]
    )
    errors = np.linalg.norm(estimates[1:] - truth, axis=1)
    assert np.abs(truth).max() > 0.3  # the platform did move
    assert np.median(errors) < 0.12 and errors.max() < 0.4


def test_keyframes_stop_the_position_drifting() -> None:
    """40 noisy frames of a random-walking platform: summed frame-to-frame shifts drift away
    from the true position as their errors add up; registered against keyframes, the error of
    a frame's position stays about that of a few pairs."""
    rng = np.random.default_rng(7)
    scene = ground(2)
    steps = rng.normal(0.0, 0.3, (40, 2))
    steps[0] = 0.0
    truth = np.cumsum(steps, axis=0)
    frames = [
        np.clip(view(scene, *p) + rng.normal(0.0, 10.0, (320, 480, 1)), 0, 255).astype(np.uint8)
        for p in truth
    ]

    def position_errors(interval: int) -> np.ndarray:
        motion = PlatformMotion(RegistrationConfig(keyframe_interval=interval))
        shifts = np.array([motion.shift(f, i) for i, f in enumerate(frames)])
        return np.linalg.norm(np.cumsum(shifts, axis=0) - truth, axis=1)

    chained, keyed = position_errors(1), position_errors(8)
    assert keyed.max() < 0.2, keyed.round(3)
    assert keyed.mean() < 0.5 * chained.mean(), (keyed.mean(), chained.mean())


@pytest.mark.parametrize(("frames", "start"), [(1, 9), (1, 13), (3, 16)])
def test_a_clip_sees_the_shifts_of_the_whole_video(tmp_path: Path, frames: int, start: int) -> None:
    """A clip read from `context_frames` before its start gets every frame's shift as the
    whole video does, wherever it starts between keyframes (8, 16: the start right after a
    keyframe, between two, on one), also for a single-frame model (FairMOT, T=1), which needs
    no history of its own but whose registration needs the keyframe before."""
    generate_archive(
        tmp_path, SynthConfig(width=192, height=128, frames=20, videos=1, seed=3), workers=1
    )
    uri = str(tmp_path / "videos" / "synth_0000.mp4")
    model = TGraM(ModelConfig(frames=frames, graph=frames > 1, adversarial=False), num_ids=1)
    detector = Detector(model, device=torch.device("cpu"))
    reg = RegistrationConfig()
    whole = {f.index: f.shift for f in detect_frames(read_frames(uri), detector, registration=reg)}
    first = max(0, start - context_frames(frames, reg))
    assert first > 0  # the clip does not simply start with the video
    clip = detect_frames(
        read_frames(uri, first), detector, first_output_frame=start, registration=reg
    )
    for f in clip:
        np.testing.assert_array_equal(f.shift, whole[f.index])
    assert np.abs(whole[start]).max() > 0  # the compared shift is not trivially zero

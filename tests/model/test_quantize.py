"""The int8 runtime: the shipped network quantised in its decoder and heads finds what fp32
finds, a quantised graph that does not is refused, `auto` steps down when int8 fails, and the
quantised export is cached and found by batch drivers."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import tgram.inference
from tgram.config import load_config
from tgram.inference import Detector
from tgram.model.config import ModelConfig
from tgram.model.export_cache import EXPORT_CACHE_ENV, CheckedExports
from tgram.model.onnx import int8_network, onnx_network
from tgram.model.ort import OnnxDetector, OnnxNetwork
from tgram.model.quantize import QUANTISED_PREFIXES, calibration_frames, check_quantised
from tgram.model.tgram import TGraM
from tgram.model.weights import load_weights
from tgram.pipeline.actor import actor_network
from tgram.pipeline.batch import BatchConfig
from tgram.resources import CONFIGS, SHIPPED_WEIGHTS
from tgram.synth import SynthConfig
from tgram.synth.video import SyntheticVideo
from tgram.track.tracker import TrackerConfig

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tgram-cache")


@pytest.fixture(scope="module")
def shipped(cache: Path) -> tuple[OnnxNetwork, OnnxNetwork]:
    """(fp32, int8) exports of the shipped weights, quantised into a private cache."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(EXPORT_CACHE_ENV, str(cache))
        model, _ = load_weights(str(SHIPPED_WEIGHTS))
        fp32 = onnx_network(model, peaks=model.cfg.peaks)
        return fp32, int8_network(fp32)


def _validation_frame() -> np.ndarray:
    """A frame of the validation seeds' style (not a calibration frame)."""
    cfg = replace(
        load_config(CONFIGS / "synth" / "train.yaml", SynthConfig),
        frames=1,
        width=480,
        height=288,
        seed=2000,
    )
    return next(iter(SyntheticVideo(cfg, 3).frames())).image


def test_only_the_decoder_and_heads_are_quantised(shipped) -> None:
    _, int8 = shipped
    graph = onnx.load_from_string(int8.onnx).graph
    quantised = [n.name for n in graph.node if n.op_type == "DequantizeLinear"]
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert quantised and len(convs) > 40
    inputs = {n.name: set(n.input) for n in convs}
    dequantised = {o for n in graph.node if n.op_type == "DequantizeLinear" for o in n.output}
    for name, ins in inputs.items():
        assert bool(ins & dequantised) == name.startswith(QUANTISED_PREFIXES), name


def test_int8_finds_what_fp32_finds_on_a_frame_it_was_not_calibrated_on(shipped) -> None:
    fp32, int8 = shipped
    frame = _validation_frame()
    a, b = (OnnxDetector(n, score_threshold=0.3, threads=1)([frame]) for n in (fp32, int8))
    assert len(a.scores) > 20
    centres = [(d.boxes[:, :2] + d.boxes[:, 2:]) / 2 for d in (a, b)]
    distance = np.linalg.norm(centres[0][:, None] - centres[1][None], axis=2)
    same_class = a.classes[:, None] == b.classes[None]
    found = (np.where(same_class, distance, np.inf).min(axis=1) <= 1.0).mean()
    assert found >= 0.9
    assert abs(len(b.scores) - len(a.scores)) <= 0.1 * len(a.scores)


def test_a_quantised_graph_that_loses_detections_is_refused(shipped) -> None:
    fp32, _ = shipped
    torch.manual_seed(0)
    untrained = TGraM(ModelConfig(frames=1, graph=False, adversarial=False), num_ids=4).eval()
    wrong = replace(fp32, onnx=onnx_network(untrained, peaks="box").onnx)
    with pytest.raises(RuntimeError, match=r"int8 export finds \d+ of the fp32 export's"):
        check_quantised(fp32, wrong, calibration_frames(1)[:2], [(64, 96)])


def test_the_quantised_export_is_cached_by_the_fp32_bytes(shipped, cache, monkeypatch) -> None:
    fp32, int8 = shipped
    monkeypatch.setenv(EXPORT_CACHE_ENV, str(cache))
    assert int8_network(fp32).onnx == int8.onnx  # a hit: the same bytes
    exports = CheckedExports()
    key = exports.key(hashlib.sha256(fp32.onnx).hexdigest(), int8=True)
    path = (exports.root / key).with_suffix(".onnx")
    assert path.read_bytes() == int8.onnx
    path.write_bytes(b"damaged")  # its recorded SHA-256 no longer matches: made again
    assert int8_network(fp32).onnx == int8.onnx
    assert path.read_bytes() == int8.onnx


def test_auto_steps_down_to_fp32_when_int8_fails(shipped, cache, monkeypatch, caplog) -> None:
    monkeypatch.setenv(EXPORT_CACHE_ENV, str(cache))
    monkeypatch.setattr(tgram.inference, "CPU_RUNTIME", "int8")

    def fails(network: OnnxNetwork) -> OnnxNetwork:  # injected fault
        raise RuntimeError("the int8 export finds 0 of the fp32 export's 10 detections")

    monkeypatch.setattr(tgram.inference, "int8_network", fails)
    model, _ = load_weights(str(SHIPPED_WEIGHTS))
    with caplog.at_level(logging.WARNING, logger="tgram.inference"):
        detector = Detector(model, device=CPU, runtime="auto")
    assert detector.runtime == "onnxruntime" and "running it with fp32 ONNX Runtime" in caplog.text
    with pytest.raises(RuntimeError, match="finds 0 of"):
        Detector(model, device=CPU, runtime="int8")


def test_int8_detector_and_batch_actors_run_the_quantised_export(
    shipped, cache, monkeypatch
) -> None:
    _, int8 = shipped
    monkeypatch.setenv(EXPORT_CACHE_ENV, str(cache))
    model, _ = load_weights(str(SHIPPED_WEIGHTS))
    detector = Detector(model, device=CPU, runtime="int8")
    assert detector.runtime == "int8" and detector.onnx.network.onnx == int8.onnx
    with pytest.raises(ValueError, match="'int8' runs on the CPU"):
        BatchConfig(runtime="int8", gpus_per_actor=1.0)
    sha = hashlib.sha256(SHIPPED_WEIGHTS.read_bytes()).hexdigest()
    tracker = TrackerConfig()
    exports = CheckedExports(cache / "records")
    given = actor_network(str(SHIPPED_WEIGHTS), sha, tracker, "int8", 0.0, exports)
    assert isinstance(given, OnnxNetwork) and given.onnx == int8.onnx
    assert exports.find(sha, int8=True) == given
    assert exports.find(sha) is None  # the fp32 export is another record

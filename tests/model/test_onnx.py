"""The ONNX Runtime runtime: same detections as eager PyTorch, any frame size, refusal of a
model whose export is wrong, and the runtime choice per device."""

from __future__ import annotations

import hashlib
import logging
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from tgram.detections import Detections
from tgram.inference import Detector
from tgram.model.config import CPU_RUNTIME, ModelConfig
from tgram.model.export_cache import EXPORT_CACHE_ENV, CheckedExports
from tgram.model.onnx import export_cache_path, onnx_network
from tgram.model.ort import OnnxDetector, OnnxNetwork
from tgram.model.tgram import TGraM
from tgram.model.weights import load_weights, save_weights
from tgram.pipeline.actor import actor_network
from tgram.pipeline.batch import BatchConfig
from tgram.track.tracker import TrackerConfig

CPU = torch.device("cpu")


def _model(**settings: object) -> TGraM:
    torch.manual_seed(0)
    model = TGraM(ModelConfig(emb_dim=16, adversarial=False, **settings), num_ids=4).eval()
    # a trained-looking graph: its zero-initialised output would hide a wrong export of it
    if model.graph is not None:
        torch.nn.init.normal_(model.graph.out.weight, std=0.05)
    return model


@pytest.mark.parametrize(
    ("size", "window"), [((96, 160), 0), ((70, 133), 0), ((96, 160), 3), ((70, 133), 3)]
)
def test_onnx_runtime_gives_eager_detections_at_any_frame_size(
    size: tuple[int, int], window: int
) -> None:
    model = _model(
        frames=3, graph_window=window, graph_ordered=window > 0, graph_stride=8 if window else 32
    )
    assert len(_assert_same_detections(model, size).scores) == 50


def test_the_neighbour_ratio_of_box_peaks_is_in_the_export() -> None:
    box = _model(frames=1, graph=False, peaks="box")
    for layer in (box.heads.hm[0], box.heads.hm[-1]):  # peaks and valleys, not a flat prior
        torch.nn.init.normal_(layer.weight, std=1.0)
    model = _model(frames=1, graph=False, peaks="box", peak_ratio=0.8)
    model.load_state_dict(box.state_dict())  # the same maps, read with the ratio
    some = {"score_threshold": 0.3}  # fewer cells than the candidate cap (1 per 8 cells)
    kept = _assert_same_detections(model, (64, 96), **some, best=None)
    assert 0 < len(kept) < len(_assert_same_detections(box, (64, 96), **some, best=None))


def _assert_same_detections(
    model: TGraM, size: tuple[int, int], score_threshold: float = 0.0, best: int | None = 50
) -> Detections:
    """Eager and ONNX Runtime detections of one random clip, equal (the `best` of each, or
    all); the eager ones. A new model scores every cell near its prior, where float rounding
    decides which of two near-equal neighbours is a peak: the best 50 stand clear of that."""
    eager = Detector(model, device=CPU, runtime="eager", score_threshold=score_threshold)
    onnx = Detector(model, device=CPU, runtime="onnxruntime", score_threshold=score_threshold)
    assert (eager.runtime, onnx.runtime) == ("eager", "onnxruntime")
    rng = np.random.default_rng(1)
    frames = list(rng.integers(0, 256, (model.cfg.frames, *size, 3), np.uint8))
    a, b = (_first(d, best) for d in (eager(frames), onnx(frames)))
    np.testing.assert_allclose(b.scores, a.scores, atol=1e-4)
    # equal scores (here to the last bit) may come in either order: compare by box
    a, b = (_by_box(d) for d in (a, b))
    np.testing.assert_allclose(b.boxes, a.boxes, atol=1e-2)
    np.testing.assert_array_equal(b.classes, a.classes)
    np.testing.assert_allclose(b.embeddings, a.embeddings, atol=1e-3)
    return a


def _first(d: Detections, n: int | None) -> Detections:
    return Detections(d.boxes[:n], d.scores[:n], d.classes[:n], d.embeddings[:n])


def _by_box(d: Detections) -> Detections:
    order = np.lexsort(np.round(d.boxes, 2).T[::-1])
    return Detections(d.boxes[order], d.scores[order], d.classes[order], d.embeddings[order])


def test_an_export_that_freezes_a_shape_is_refused_or_falls_back_to_eager(caplog) -> None:
    # the deformable convolution reshapes to Python ints, which the tracer freezes
    model = _model(frames=1, graph=False, backbone="mobilenetv3", deform_conv=True)
    with pytest.raises(RuntimeError, match="ONNX export of this model"):
        onnx_network(model, peaks="maxpool")
    with caplog.at_level(logging.WARNING, logger="tgram.inference"):
        detector = Detector(model, device=CPU, runtime="auto")
    assert detector.runtime == "eager" and "running it with eager PyTorch" in caplog.text
    with pytest.raises(RuntimeError, match="use the eager runtime"):
        Detector(model, device=CPU, runtime="onnxruntime")


def test_exports_are_cached_checked_and_exported_again_when_wrong(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(EXPORT_CACHE_ENV, str(tmp_path))
    a, b = _model(frames=1, graph=False), _model(frames=1, graph=False)
    with torch.no_grad():
        next(b.parameters()).add_(0.5)
    key = dict(peaks="maxpool")
    onnx_network(a, **key)
    path = export_cache_path(a, **key)
    assert sorted((tmp_path / "onnx").iterdir()) == [path]
    written = path.stat()
    onnx_network(a, **key)  # read from the cache, not written again
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    onnx_network(b, **key)
    assert export_cache_path(b, **key) != path and export_cache_path(b, **key).exists()
    assert export_cache_path(a, peaks="box") != path

    # another network under a's name fails the check against a and is exported again
    path.write_bytes(export_cache_path(b, **key).read_bytes())
    network = onnx_network(a, **key)
    assert path.read_bytes() != export_cache_path(b, **key).read_bytes()
    frames = list(np.random.default_rng(0).integers(0, 256, (1, 64, 96, 3), np.uint8))
    eager = Detector(a, device=CPU, runtime="eager", score_threshold=0.3)
    got = OnnxDetector(network, score_threshold=0.3, threads=1)(frames)
    np.testing.assert_allclose(got.scores, eager(frames).scores, atol=1e-4)


def test_every_load_of_a_weights_file_finds_the_same_export(tmp_path) -> None:
    """Loading starts the training-only parts (identity classifier) afresh at random: they
    must not enter the cache key, or every process would export again."""
    model = _model(frames=1, graph=False)
    save_weights(str(tmp_path / "w.pt"), model, model.cfg, {})
    paths = {
        export_cache_path(load_weights(str(tmp_path / "w.pt"))[0], peaks="box") for _ in range(2)
    }
    assert len(paths) == 1


def test_runtime_choice_is_checked() -> None:
    model = _model(frames=1, graph=False)
    assert Detector(model, device=CPU).runtime == CPU_RUNTIME  # auto on a CPU
    with pytest.raises(ValueError, match="runtime must be one of auto, eager, onnxruntime"):
        Detector(model, device=CPU, runtime="tensorrt")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="runtime: expected one of"):
        BatchConfig(runtime="fast")  # type: ignore[arg-type]


def test_a_process_given_the_export_detects_without_torch(tmp_path) -> None:
    """Batch model actors on CPUs get the driver's checked export and never import torch."""
    model = _model(frames=1, graph=False)
    detector = Detector(model, device=CPU, runtime="onnxruntime", score_threshold=0.05)
    frames = np.random.default_rng(3).integers(0, 256, (1, 70, 133, 3), np.uint8)
    (tmp_path / "network.pkl").write_bytes(pickle.dumps(detector.onnx.network))
    np.save(tmp_path / "frames.npy", frames)
    code = f"""
import pickle, sys
import numpy as np
from tgram.model.ort import OnnxDetector
import tgram.pipeline.actor
network = pickle.loads(open({str(tmp_path / "network.pkl")!r}, "rb").read())
det = OnnxDetector(network, score_threshold=0.05, threads=1)(list(np.load({str(tmp_path / "frames.npy")!r})))
np.save({str(tmp_path / "boxes.npy")!r}, det.boxes)
print(sorted(m for m in ("torch",) if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    expected = detector(list(frames))
    assert len(expected) > 0
    np.testing.assert_array_equal(np.load(tmp_path / "boxes.npy"), expected.boxes)


def test_a_checked_export_is_found_by_the_weights_hash_without_building_the_model(
    tmp_path,
) -> None:
    """A batch driver whose weights' export passed its check before gets it from the record:
    the second call never opens the weights file (here: it no longer exists)."""
    model = _model(frames=1, graph=False)
    weights = tmp_path / "w.pt"
    save_weights(str(weights), model, model.cfg, {})
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    exports = CheckedExports(tmp_path / "cache")
    assert exports.find(sha) is None
    first = actor_network(str(weights), sha, TrackerConfig(), "auto", 0, exports)
    assert isinstance(first, OnnxNetwork) and first.emb_dim == 16
    weights.unlink()
    again = actor_network(str(weights), sha, TrackerConfig(), "auto", 0, exports)
    assert again == first
    assert exports.find("0" * 64) is None
    # GPU actors and the eager runtime get the weights URI, record or not
    assert actor_network(str(weights), sha, TrackerConfig(), "auto", 1, exports) == str(weights)
    assert actor_network(str(weights), sha, TrackerConfig(), "eager", 0, exports) == str(weights)


def test_a_damaged_checked_export_is_a_miss(tmp_path) -> None:
    exports = CheckedExports(tmp_path)
    network = OnnxNetwork(b"graph", 1, ("car",), 8, "box")
    exports.remember("a" * 64, network)
    assert exports.find("a" * 64) == network
    (onnx_file,) = (tmp_path / "checked").glob("*.onnx")
    onnx_file.write_bytes(b"grapH")
    assert exports.find("a" * 64) is None
    onnx_file.with_suffix(".json").write_text("{not json")
    assert exports.find("a" * 64) is None


def test_an_unwritable_cache_skips_the_record(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    exports = CheckedExports(tmp_path / "file")  # its folder cannot be made
    exports.remember("a" * 64, OnnxNetwork(b"graph", 1, ("car",), 8, "box"))
    assert exports.find("a" * 64) is None

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tgram.data.targets import MIN_RADIUS, build_targets, gaussian_radius
from tgram.inference import Detector
from tgram.model.config import ModelConfig
from tgram.model.decode import decode, heatmap_peaks
from tgram.model.tgram import TGraM
from tgram.model.weights import save_weights


def perfect_outputs(targets: dict[str, np.ndarray], emb_dim: int = 8) -> dict[str, torch.Tensor]:
    """Head maps that a perfect network would produce for these targets."""
    c, h, w = targets["hm"].shape
    hm = torch.from_numpy(targets["hm"]).clamp(1e-6, 1 - 1e-6)
    out = {
        "hm": torch.log(hm / (1 - hm))[None],
        "ltrb": torch.zeros(1, 4, h, w),
        "offset": torch.zeros(1, 2, h, w),
    }
    emb = torch.zeros(1, emb_dim, h, w)
    for k in np.flatnonzero(targets["mask"]):
        iy, ix = divmod(int(targets["index"][k]), w)
        out["ltrb"][0, :, iy, ix] = torch.from_numpy(targets["ltrb"][k])
        out["offset"][0, :, iy, ix] = torch.from_numpy(targets["offset"][k])
        emb[0, int(targets["ids"][k]) % emb_dim, iy, ix] = 1.0
    out["emb"] = emb
    return out


def test_targets_round_trip_through_decode() -> None:
    boxes = np.array([[10, 12, 14, 20], [40.5, 30, 90, 60], [100, 100, 112, 106]], np.float32)
    classes, ids = np.array([2, 0, 1]), np.array([5, 6, 7])
    t = build_targets(boxes, classes, ids, image_hw=(128, 128), num_classes=3, max_objects=8)
    assert t["hm"].shape == (3, 32, 32) and t["mask"].sum() == 3
    det = decode(perfect_outputs(t), score_threshold=0.5)[0]
    order = np.argsort(det.boxes[:, 0])
    assert np.allclose(det.boxes[order], boxes[np.argsort(boxes[:, 0])], atol=1.0)
    assert det.classes[order].tolist() == classes[np.argsort(boxes[:, 0])].tolist()
    assert np.allclose(np.linalg.norm(det.embeddings, axis=1), 1.0)


def test_tiny_vehicle_gets_a_peak_and_radius_floor() -> None:
    t = build_targets(
        np.array([[9, 9, 13, 17]], np.float32),
        np.array([0]),
        np.array([1]),
        image_hw=(64, 64),
        num_classes=1,
        max_objects=4,
    )
    assert gaussian_radius(2, 1) < 1 <= MIN_RADIUS
    assert t["hm"].max() == 1.0 and (t["hm"] > 0).sum() == 9  # 3x3 neighbourhood from the floor
    assert t["ids"][0] == 1 and t["ids"][1] == -1


def test_max_objects_caps_box_targets_not_the_heatmap() -> None:
    """Past the cap the smallest objects lose box and identity targets, never their peak: a
    peak left out would be a background cell the network is taught to keep dark."""
    boxes = np.array([[0, 0, 4, 4], [10, 10, 30, 30], [40, 40, 44, 48]], np.float32)
    t = build_targets(
        boxes, np.zeros(3, int), np.arange(3), image_hw=(64, 64), num_classes=1, max_objects=2
    )
    assert t["mask"].sum() == 2 and set(t["ids"].tolist()) == {1, 2}
    centres = [(0, 0), (5, 5), (10, 11)]  # (x, y) cells of the three boxes at stride 4
    assert all(t["hm"][0, y, x] == 1.0 for x, y in centres)


def test_a_dense_frame_keeps_every_peak_above_the_floor() -> None:
    """A 1080p car park holds over 11,000 cars: the candidates grow with the scene (a fixed
    top 2,000 lost most of them), up to the cap of 1 per CELLS_PER_CANDIDATE cells."""
    hm = torch.full((2, 3, 272, 480), -9.0)  # a 1088x1920 frame's maps, two images
    hm[0, 2, ::2, ::2] = 2.0  # 32,640 isolated vehicle peaks, score 0.88
    hm[1, 0, 5, 7] = 2.0
    ltrb = torch.full((2, 4, 272, 480), 0.25)  # 2x2 px boxes: no two overlap
    maps = {"hm": hm, "ltrb": ltrb, "offset": torch.zeros(2, 2, 272, 480)}
    maps["emb"] = torch.ones(2, 4, 272, 480)
    dense, sparse = decode(maps, score_threshold=0.5)
    assert len(dense) == 136 * 240 and set(dense.classes.tolist()) == {2}
    assert len(sparse) == 1  # the batch's other image: its cells below the floor are dropped
    hm[0, 2] = 2.0  # every cell scores: the cap holds
    assert len(decode(maps, score_threshold=0.5, peaks="box")[0]) == 3 * 272 * 480 // 8


def test_heatmap_peaks_suppresses_neighbours() -> None:
    heat = torch.tensor([[[[0.1, 0.5, 0.4], [0.2, 0.3, 0.1], [0.0, 0.0, 0.9]]]])
    peaks = heatmap_peaks(heat)
    assert torch.count_nonzero(peaks) == 2 and peaks[0, 0, 0, 1] == 0.5 and peaks[0, 0, 2, 2] == 0.9


@pytest.mark.parametrize("threshold", [0.3, 0.95])
def test_score_threshold(threshold: float) -> None:
    t = build_targets(
        np.array([[8, 8, 24, 24]], np.float32),
        np.array([0]),
        np.array([0]),
        image_hw=(32, 32),
        num_classes=1,
        max_objects=2,
    )
    out = perfect_outputs(t)
    out["hm"] = out["hm"].clamp(max=torch.logit(torch.tensor(0.9)))
    assert len(decode(out, score_threshold=threshold)[0]) == (1 if threshold < 0.9 else 0)


def test_box_peaks_keep_cars_in_adjacent_cells_and_drop_duplicates() -> None:
    """Two 3x6 px cars 4 px apart sit in neighbouring stride-4 cells: max-pool keeps one, box NMS both;
    a large object's spill-over cell decodes to an overlapping box and is dropped."""
    h = w = 16
    hm = torch.full((1, 3, h, w), -9.0)
    ltrb = torch.zeros((1, 4, h, w))
    hm[0, 2, 5, 5], hm[0, 2, 5, 6] = 3.0, 2.0  # two cars, adjacent cells
    ltrb[0, :, 5, 5] = ltrb[0, :, 5, 6] = torch.tensor([0.375, 0.75, 0.375, 0.75])
    hm[0, 0, 10, 10], hm[0, 0, 10, 11] = 3.0, 1.0  # an airplane and its spill-over cell
    ltrb[0, :, 10, 10] = ltrb[0, :, 10, 11] = 4.0
    outputs = {
        "hm": hm,
        "ltrb": ltrb,
        "offset": torch.zeros((1, 2, h, w)),
        "emb": torch.ones((1, 4, h, w)),
    }
    maxpool = decode(outputs, score_threshold=0.5, peaks="maxpool")[0]
    box = decode(outputs, score_threshold=0.5, peaks="box")[0]
    assert sorted(maxpool.classes.tolist()) == [0, 2]
    assert sorted(box.classes.tolist()) == [0, 2, 2]
    with pytest.raises(ValueError, match="peaks must be"):
        decode(outputs, peaks="nope")  # type: ignore[arg-type]


def test_peak_ratio_drops_a_small_cars_dim_neighbour_cell_and_keeps_cars_alike() -> None:
    """A 3x6 px car whose centre is near a cell border also lights the next cell, at a lower
    score; their boxes barely overlap, so box NMS keeps both. Two cars in adjacent cells score
    alike and both stay."""
    h = w = 16
    hm = torch.full((1, 3, h, w), -9.0)
    hm[0, 2, 5, 5], hm[0, 2, 5, 6] = 3.0, 2.0  # two cars: 0.95 and 0.88
    hm[0, 2, 10, 10], hm[0, 2, 10, 11] = 3.0, 0.0  # a car and its spill-over cell: 0.95, 0.5
    ltrb = torch.zeros((1, 4, h, w))
    ltrb[0, :, 5:11, 5:12] = torch.tensor([0.375, 0.75, 0.375, 0.75])[:, None, None]
    outputs = {
        "hm": hm,
        "ltrb": ltrb,
        "offset": torch.zeros((1, 2, h, w)),
        "emb": torch.ones((1, 4, h, w)),
    }
    assert len(decode(outputs, score_threshold=0.3, peaks="box")[0]) == 4
    kept = decode(outputs, score_threshold=0.3, peaks="box", peak_ratio=0.7)[0]
    np.testing.assert_allclose(sorted(kept.scores), [0.88, 0.95, 0.95], atol=0.01)
    with pytest.raises(ValueError, match="peak_ratio"):
        ModelConfig(peaks="box", peak_ratio=1.5)


def test_ignored_objects_are_neither_positives_nor_negatives() -> None:
    boxes = np.array([[8, 8, 16, 12], [40, 40, 48, 44]], np.float32)
    t = build_targets(
        boxes,
        np.array([2, 2]),
        np.array([0, 1]),
        ignore=np.array([False, True]),
        image_hw=(64, 64),
        num_classes=3,
        max_objects=4,
    )
    assert t["mask"].tolist() == [1, 0, 0, 0] and t["ids"].tolist() == [0, -1, -1, -1]
    assert (t["hm"] == 1).sum() == 1  # one positive peak
    ignored_centre = t["hm"][2, 10, 11]
    assert 0.99 < ignored_centre < 1  # (1 - target)^4 ~ 0: no penalty for firing there


def test_weights_carry_their_peak_rule(tmp_path: Path) -> None:
    """The Detector reads detections off the heatmap the way the weights say (old weights
    without the key: max-pool), unless told otherwise."""
    cfg = ModelConfig(decoder_channels=8, head_channels=8, emb_dim=8, peaks="box")
    model = TGraM(cfg, num_ids=1)
    uri = str(tmp_path / "w.pt")
    save_weights(uri, model, cfg, {})
    assert Detector.from_weights(uri, device=torch.device("cpu")).peaks == "box"
    assert (
        Detector.from_weights(uri, device=torch.device("cpu"), peaks="maxpool").peaks == "maxpool"
    )
    state = torch.load(uri, weights_only=True)
    del state["config"]["peaks"]
    torch.save(state, tmp_path / "old.pt")
    assert (
        Detector.from_weights(str(tmp_path / "old.pt"), device=torch.device("cpu")).peaks
        == "maxpool"
    )
    with pytest.raises(ValueError, match="peaks must be 'maxpool' or 'box'"):
        ModelConfig(peaks="nms")  # type: ignore[arg-type]

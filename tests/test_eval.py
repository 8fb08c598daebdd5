from __future__ import annotations

import json
import logging
import math
import re
import shutil
from pathlib import Path

import motmetrics
import numpy as np
import pytest

from tgram import storage
from tgram.data.formats import GT_DTYPE, RESULT_DTYPE, write_gt, write_results
from tgram.eval import EvalReport, Metrics, evaluate, evaluate_files

MOTMETRICS_DATA = Path(motmetrics.__file__).parent / "data"
TUD = ("TUD-Campus", "TUD-Stadtmitte")

# motmetrics' own expectations for its bundled TUD data (motmetrics/tests/test_metrics.py,
# test_motchallenge_files), and HOTA/DetA/AssA computed on the same files by TrackEval's
# HOTA (PyPI trackeval 1.3.0, the packaged Luiten et al. code).
REFERENCE = {
    "TUD-Campus": dict(
        idf1=0.557659, idp=0.729730, idr=0.451253, mt=1, ml=1, fp=13, fn=150, idsw=7,
        mota=0.526462, motp=0.277201, hota=0.391397, deta=0.418047, assa=0.369121,
    ),
    "TUD-Stadtmitte": dict(
        idf1=0.644619, idp=0.819760, idr=0.531142, mt=5, ml=1, fp=45, fn=452, idsw=7,
        mota=0.564014, motp=0.345904, hota=0.397849, deta=0.392268, assa=0.408841,
    ),
    "OVERALL": dict(
        idf1=0.624296, idp=0.799176, idr=0.512211, mt=6, ml=2, fp=58, fn=602, idsw=14,
        mota=0.555116, motp=0.330177, hota=0.399957, deta=0.397683, assa=0.412450,
    ),
}  # fmt: skip


def gt_rows(*rows: tuple, mark: int = 1, cls: int = 3) -> np.ndarray:
    """GT_DTYPE rows from (frame, id, x, y, w, h) tuples, 0-based frames."""
    out = np.zeros(len(rows), GT_DTYPE)
    for name, column in zip(
        ("frame", "id", "x", "y", "w", "h"), zip(*rows, strict=True), strict=True
    ):
        out[name] = column
    out["mark"], out["cls"], out["visibility"] = mark, cls, 1.0
    return out


def res_rows(*rows: tuple) -> np.ndarray:
    """RESULT_DTYPE rows from (frame, id, x, y, w, h) tuples, 0-based frames."""
    out = np.zeros(len(rows), RESULT_DTYPE)
    for name, column in zip(
        ("frame", "id", "x", "y", "w", "h"), zip(*rows, strict=True), strict=True
    ):
        out[name] = column
    out["score"] = 1.0
    return out


def as_results(gt: np.ndarray) -> np.ndarray:
    return res_rows(*gt[["frame", "id", "x", "y", "w", "h"]].tolist())


def write_tud(root: Path, layout: str) -> tuple[Path, Path]:
    """motmetrics' TUD files as `gt/<id>.txt` or `<seq>/gt/gt.txt` plus `res/<id>.txt`.

    The MOT15 gt columns (frame,id,box,conf,world x,y,z) are rewritten in the MOT16+
    layout our reader takes: conf (all 1) becomes mark, class and visibility -1.
    """
    for seq in TUD:
        lines = (MOTMETRICS_DATA / seq / "gt.txt").read_text().splitlines()
        gt_text = "".join(",".join(line.split(",")[:7]) + ",-1,-1\n" for line in lines)
        gt_file = root / "gt" / (f"{seq}.txt" if layout == "flat" else f"train/{seq}/gt/gt.txt")
        gt_file.parent.mkdir(parents=True, exist_ok=True)
        gt_file.write_text(gt_text)
        (root / "res").mkdir(exist_ok=True)
        shutil.copy(MOTMETRICS_DATA / seq / "test.txt", root / "res" / f"{seq}.txt")
    return root / "gt", root / "res"


@pytest.mark.parametrize("layout", ["flat", "tree"])
def test_reproduces_motmetrics_and_trackeval_on_tud(tmp_path: Path, layout: str) -> None:
    report = evaluate_files(*write_tud(tmp_path, layout))
    scores = {**report.videos, "OVERALL": report.overall}
    assert list(scores) == [*TUD, "OVERALL"]
    for name, expected in REFERENCE.items():
        for key, value in expected.items():
            assert getattr(scores[name], key) == pytest.approx(value, abs=1e-3), (name, key)
    assert report.overall.num_frames == 71 + 179


@pytest.mark.parametrize("match", ["iou", "center"])
def test_ground_truth_against_itself_is_perfect(match: str) -> None:
    gt = np.concatenate(
        [
            gt_rows(*[(f, 1, 10 + 2 * f, 20, 4, 8) for f in range(5)]),
            gt_rows(*[(f, 2, 40, 40 + f, 8, 4) for f in range(1, 4)]),
            gt_rows((2, 3, 70, 70, 4, 8), mark=0),
        ]
    )
    report = evaluate({"v": gt}, {"v": as_results(gt)}, match=match)
    overall = report.overall
    assert (overall.mota, overall.idf1, overall.hota, overall.deta, overall.assa) == (1, 1, 1, 1, 1)
    assert (overall.fp, overall.fn, overall.idsw, overall.num_gt, overall.num_frames) == (
        0,
        0,
        0,
        8,
        5,
    )


def box(frame: int, track_id: int, x: float = 0.0) -> tuple:
    return (frame, track_id, x, 0.0, 10.0, 10.0)


FAR = 100.0

CASES = {
    "one FP": (
        [box(f, 1) for f in range(3)],
        [box(f, 7) for f in range(3)] + [box(1, 8, FAR)],
        dict(fp=1, fn=0, idsw=0, num_gt=3, num_frames=3),
    ),
    "one FN": (
        [box(f, 1) for f in range(3)],
        [box(0, 7), box(2, 7)],
        dict(fp=0, fn=1, idsw=0, num_gt=3, num_frames=3),
    ),
    "one ID switch": (
        [box(f, 1) for f in range(4)],
        [box(0, 7), box(1, 7), box(2, 8), box(3, 8)],
        dict(fp=0, fn=0, idsw=1, num_gt=4, num_frames=4, idf1=0.5),
    ),
    "last frame has gt only": (
        [box(f, 1) for f in range(4)],
        [box(f, 7) for f in range(3)],
        dict(fp=0, fn=1, idsw=0, num_gt=4, num_frames=4),
    ),
    "frame with results only": (
        [box(f, 1) for f in range(2)],
        [box(f, 7) for f in range(3)],
        dict(fp=1, fn=0, idsw=0, num_gt=2, num_frames=3),
    ),
    "two objects, FP, FN and switch": (
        [box(f, 1) for f in range(4)] + [box(f, 2, 50) for f in range(4)],
        [box(f, 7) for f in range(4)]
        + [box(0, 8, 50), box(1, 8, 50), box(3, 9, 50)]
        + [box(2, 5, FAR), box(3, 5, FAR)],
        dict(fp=2, fn=1, idsw=1, num_gt=8, num_frames=4),
    ),
}


@pytest.mark.parametrize("gt, res, expected", CASES.values(), ids=CASES.keys())
def test_clear_counts_hand_computed(gt: list, res: list, expected: dict) -> None:
    overall = evaluate({"v": gt_rows(*gt)}, {"v": res_rows(*res)}).overall
    for key, value in expected.items():
        assert getattr(overall, key) == pytest.approx(value), key
    errors = expected["fn"] + expected["fp"] + expected["idsw"]
    assert overall.mota == pytest.approx(1 - errors / expected["num_gt"])


def test_results_on_ignored_gt_are_not_false_positives() -> None:
    gt = np.concatenate(
        [gt_rows(box(0, 1), box(1, 1)), gt_rows(box(0, 2, 50), box(1, 2, 50), mark=0)]
    )
    res = res_rows(box(0, 7), box(1, 7), box(0, 8, 50), box(1, 8, 52))
    overall = evaluate({"v": gt}, {"v": res}).overall
    assert (overall.fp, overall.fn, overall.num_gt, overall.mota, overall.hota) == (0, 0, 2, 1, 1)


def test_centre_matching_accepts_a_shifted_4x8_box_that_iou_rejects() -> None:
    # A 4x8 car and a result 2 px to the right: IoU = (2*8) / (2*32 - 16) = 1/3 < 0.5.
    gt = {"v": gt_rows((0, 1, 10, 10, 4, 8))}
    res = {"v": res_rows((0, 7, 12, 10, 4, 8))}
    by_iou = evaluate(gt, res, match="iou").overall
    by_centre = evaluate(gt, res, match="center", center_threshold_px=5).overall
    assert (by_iou.fp, by_iou.fn, by_iou.mota) == (1, 1, -1)
    assert (by_centre.fp, by_centre.fn, by_centre.mota, by_centre.motp) == (0, 0, 1, 2)
    # HOTA ignores the match threshold: similarity 1 - 2/5 = 0.6 matches at the 12 alphas
    # 0.05..0.60 of 19, IoU 1/3 at the 6 alphas 0.05..0.30.
    assert by_centre.hota == pytest.approx(12 / 19)
    assert by_iou.hota == pytest.approx(6 / 19)


HOTA_CASES = {
    # Perfect boxes, the track id changes halfway: DetA 1, AssA = 2 * (2 / (4 + 2 - 2)) / 4.
    "id switch halfway": (
        [box(f, 1) for f in range(4)],
        [box(0, 7), box(1, 7), box(2, 8), box(3, 8)],
        "iou",
        dict(hota=math.sqrt(0.5), deta=1.0, assa=0.5),
    ),
    # Similarity 1 then 0.5 (5 px off, 10 px threshold): perfect for the 10 alphas <= 0.5;
    # above, TP 1, FN 1, FP 1 give DetA 1/3 and AssA 1/(2 + 2 - 1) = 1/3.
    "similarity 1 then 0.5": (
        [box(0, 1), box(1, 1)],
        [box(0, 7), box(1, 7, 5)],
        "center",
        dict(hota=13 / 19, deta=13 / 19, assa=13 / 19),
    ),
    # A long-lived track (similarity 0.8) and a one-frame duplicate (0.9) in the last frame.
    # Alignment: track 7 gets (1 + 1 + 0.8/1.7) / (3 + 3 - that) = 0.7, track 8 0.153, so
    # the scores 0.56 vs 0.14 keep track 7 although 8 is closer. Alphas <= 0.8 (16 of 19):
    # TP 3, FP 1, DetA 3/4, AssA 1; above, nothing matches.
    "global alignment beats per-frame similarity": (
        [box(f, 1) for f in range(3)],
        [box(f, 7, 2) for f in range(3)] + [box(2, 8, 1)],
        "center",
        dict(hota=16 / 19 * math.sqrt(0.75), deta=16 / 19 * 0.75, assa=16 / 19),
    ),
}


@pytest.mark.parametrize("gt, res, match, expected", HOTA_CASES.values(), ids=HOTA_CASES.keys())
def test_hota_hand_computed(gt: list, res: list, match: str, expected: dict) -> None:
    overall = evaluate(
        {"v": gt_rows(*gt)}, {"v": res_rows(*res)}, match=match, center_threshold_px=10
    ).overall
    for key, value in expected.items():
        assert getattr(overall, key) == pytest.approx(value, abs=1e-9), key


def test_overall_hota_weights_assa_by_true_positives() -> None:
    perfect = [box(f, 1) for f in range(4)]
    switched = [box(0, 7), box(1, 7), box(2, 8), box(3, 8)]
    report = evaluate(
        {"a": gt_rows(*perfect), "b": gt_rows(*perfect, box(0, 2, 50))},
        {"a": res_rows(*perfect), "b": res_rows(*switched)},
    )
    assert report.videos["a"].assa == 1 and report.videos["b"].assa == 0.5
    # TP 4 + 4 over 9 gt boxes; AssA (4 * 1 + 4 * 0.5) / 8.
    assert report.overall.deta == pytest.approx(8 / 9)
    assert report.overall.assa == pytest.approx(0.75)
    assert report.overall.hota == pytest.approx(math.sqrt(8 / 9 * 0.75))


def test_per_class_treats_other_classes_as_ignore_regions_unless_results_are_labelled() -> None:
    car, ship = gt_rows(box(0, 1), cls=3), gt_rows(box(0, 2, 50), cls=2)
    gt = {"v": np.concatenate([car, ship])}
    results = res_rows(box(0, 7), box(0, 8, 50))

    unlabelled = evaluate(gt, {"v": results}, classes=["vehicle", "ship"])
    assert (unlabelled.overall.fp, unlabelled.overall.fn) == (0, 0)
    for name in ("vehicle", "ship"):
        overall = unlabelled.classes[name].overall
        assert (overall.fp, overall.fn, overall.num_gt, overall.mota) == (0, 0, 1, 1), name

    labelled = np.zeros(2, [*RESULT_DTYPE.descr, ("cls", np.int16)])
    for name in RESULT_DTYPE.names:
        labelled[name] = results[name]
    labelled["cls"] = 3  # the ship is called a vehicle
    report = evaluate(gt, {"v": labelled}, classes=["vehicle", "ship"])
    vehicle, ship_scores = report.classes["vehicle"].overall, report.classes["ship"].overall
    assert (vehicle.fp, vehicle.fn, ship_scores.fp, ship_scores.fn) == (1, 0, 0, 1)


def test_video_without_results_counts_all_misses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_gt(tmp_path / "gt" / "a.txt", gt_rows(box(0, 1), box(1, 1)))
    write_gt(tmp_path / "gt" / "b.txt", gt_rows(box(0, 1), box(1, 1), box(2, 1)))
    write_results(tmp_path / "res" / "a.txt", res_rows(box(0, 7), box(1, 7)))
    with caplog.at_level(logging.WARNING, logger="tgram.eval"):
        report = evaluate_files(tmp_path / "gt", tmp_path / "res")
    assert "b.txt" in caplog.text
    assert (report.videos["a"].mota, report.videos["b"].fn, report.videos["b"].num_frames) == (
        1,
        3,
        3,
    )
    assert report.overall.fn == 3


def test_single_file_pair_and_report_outputs(tmp_path: Path) -> None:
    write_gt(tmp_path / "seq1" / "gt" / "gt.txt", gt_rows(box(0, 1), box(1, 1)))
    write_results(tmp_path / "out.txt", res_rows(box(0, 7), box(1, 8)))
    report = evaluate_files(
        tmp_path / "seq1" / "gt" / "gt.txt", tmp_path / "out.txt", per_class=True
    )
    assert list(report.videos) == ["seq1"] and report.overall.idsw == 1

    data = json.loads(report.to_json())
    assert data["overall"]["idsw"] == 1 and data["matching"]["kind"] == "iou"
    assert data["classes"]["airplane"]["overall"]["mota"] is None  # no airplanes in the gt
    text = report.to_text()
    assert text.splitlines()[0] == "matching: IoU >= 0.5"
    assert all(word in text for word in ("seq1", "OVERALL", "HOTA", "IDF1", "class vehicle:"))


def test_evaluate_files_on_s3(s3_bucket: str) -> None:
    write_gt(storage.join(s3_bucket, "gt", "v1.txt"), gt_rows(box(0, 1), box(1, 1)))
    write_results(storage.join(s3_bucket, "res", "v1.txt"), res_rows(box(0, 7)))
    report = evaluate_files(storage.join(s3_bucket, "gt"), storage.join(s3_bucket, "res"))
    assert list(report.videos) == ["v1"] and report.overall.fn == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(match="giou"), "match must be 'iou' or 'center'"),
        (dict(iou_threshold=0.0), "iou_threshold must be in (0, 1]"),
        (dict(center_threshold_px=-1.0), "center_threshold_px must be > 0"),
        (dict(classes=["tank"]), "unknown class 'tank'"),
        (
            dict(res={"other": res_rows(box(0, 1))}),
            "results for video 'other' have no ground truth",
        ),
        (dict(res={"v": res_rows(box(0, 7), box(0, 7, 50))}), "id 7 appears 2 times in frame 1"),
        (dict(res={"v": np.zeros(1, [("frame", int), ("id", int)])}), "missing x, y, w, h"),
        (dict(gt={}), "no ground-truth videos"),
    ],
)
def test_invalid_input_is_rejected_with_a_clear_message(kwargs: dict, message: str) -> None:
    inputs = {"gt": {"v": gt_rows(box(0, 1))}, "res": {"v": res_rows(box(0, 7))}}
    inputs.update({k: kwargs.pop(k) for k in ("gt", "res") if k in kwargs})
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluate(inputs["gt"], inputs["res"], **kwargs)


def test_missing_results_folder_is_an_error(tmp_path: Path) -> None:
    write_gt(tmp_path / "gt" / "a.txt", gt_rows(box(0, 1)))
    with pytest.raises(FileNotFoundError, match="no results file for any of the 1 gt videos"):
        evaluate_files(tmp_path / "gt", tmp_path / "nowhere")


def test_report_types() -> None:
    report = evaluate({"v": gt_rows(box(0, 1))}, {"v": res_rows(box(0, 7))})
    assert isinstance(report, EvalReport) and isinstance(report.overall, Metrics)
    assert isinstance(report.overall.fp, int) and isinstance(report.overall.mota, float)

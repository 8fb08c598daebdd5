from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tgram.config import ConfigError
from tgram.data.formats import (
    GT_DTYPE,
    LABEL_DTYPE,
    RESULT_DTYPE,
    FormatError,
    gen_labels,
    label_relpath,
    labels_from_boxes,
    load_dataset_json,
    read_gt,
    read_image_list,
    read_labels,
    read_results,
    write_gt,
    write_image_list,
    write_labels,
    write_results,
)
from tgram.synth import SynthConfig, generate_archive


def gt_rows(*rows: tuple) -> np.ndarray:
    return np.array(list(rows), GT_DTYPE)


def test_gt_round_trip_writes_1_based_frames_and_rounded_boxes(tmp_path: Path) -> None:
    rows = gt_rows((0, 7, 10.5, 20.25, 4, 8, 1, 3, 0.75), (4, 2, 1.234, 0, 12, 6, 0, 1, 1.0))
    path = tmp_path / "gt.txt"
    write_gt(path, rows)
    assert path.read_text() == "1,7,10.5,20.25,4,8,1,3,0.75\n5,2,1.23,0,12,6,0,1,1\n"
    back = read_gt(path)
    assert back.dtype == GT_DTYPE
    assert back["frame"].tolist() == [0, 4]
    assert back["id"].tolist() == [7, 2]
    np.testing.assert_allclose(back["x"], [10.5, 1.23], atol=1e-5)
    assert back["mark"].tolist() == [1, 0]
    assert back["cls"].tolist() == [3, 1]


def test_results_round_trip_has_three_placeholder_columns(tmp_path: Path) -> None:
    rows = np.array([(9, 3, 100.0, 50.5, 10.0, 5.0, 0.87654)], RESULT_DTYPE)
    path = tmp_path / "res.txt"
    write_results(path, rows)
    assert path.read_text() == "10,3,100,50.5,10,5,0.8765,-1,-1,-1\n"
    back = read_results(path)
    assert back["frame"].tolist() == [9]
    np.testing.assert_allclose(back["score"], [0.8765], atol=1e-6)


def test_empty_files_round_trip(tmp_path: Path) -> None:
    write_gt(tmp_path / "gt.txt", np.zeros(0, GT_DTYPE))
    assert (tmp_path / "gt.txt").read_text() == ""
    assert len(read_gt(tmp_path / "gt.txt")) == 0


def test_labels_from_pixel_boxes_are_normalised_centre_and_size(tmp_path: Path) -> None:
    rows = labels_from_boxes(
        np.array([[10, 20, 30, 60]]), np.array([2]), np.array([41]), width=100, height=80
    )
    assert rows.tolist() == [(2, 41, pytest.approx(0.2), 0.5, pytest.approx(0.2), 0.5)]
    path = tmp_path / "000001.txt"
    write_labels(path, rows)
    assert path.read_text() == "2 41 0.2 0.5 0.2 0.5\n"
    assert read_labels(path).tolist() == rows.tolist()


def test_labels_with_runs_of_spaces_are_read(tmp_path: Path) -> None:
    path = tmp_path / "000001.txt"
    path.write_text("0  3 0.5 0.5 0.1 0.2 \n")
    assert read_labels(path).tolist() == [(0, 3, 0.5, 0.5, pytest.approx(0.1), pytest.approx(0.2))]


@pytest.mark.parametrize(
    ("reader", "text", "line", "fragment"),
    [
        (read_gt, "1,2,3\n", 1, "expected 9 comma-separated numbers"),
        (
            read_gt,
            "1,1,1,1,1,1,1,1,1\n\n1,1,a,1,1,1,1,1,1\n",
            3,
            "expected 9 comma-separated numbers",
        ),
        (read_gt, "1,1,1,1,1,1,1,1,1\n1,1.5,1,1,1,1,1,1,1\n", 2, "column 'id' must be an integer"),
        (read_gt, "0,1,1,1,1,1,1,1,1\n", 1, "column 'frame' must be >= 1"),
        (read_gt, "1,1,nan,1,1,1,1,1,1\n", 1, "expected finite numbers"),
        (read_results, "1,1,1,1,1,1,0.5,-1,-1,-1,-1\n", 1, "expected 10 comma-separated numbers"),
        (read_labels, "0 1 0.5 0.5 0.1\n", 1, "expected 6 space-separated numbers"),
        (read_gt, "1,1,1,1,1,1,1,70000,1\n", 1, "column 'cls' value 70000 outside [-32768, 32767]"),
        (read_gt, "1,9e19,1,1,1,1,1,1,1\n", 1, "column 'id' value"),
        (read_labels, "0 1 0.5 0.5 0.1 0.1\n3000000000 1 0.5 0.5 0.1 0.1\n", 2, "column 'cls'"),
    ],
)
def test_malformed_line_is_reported_with_file_and_line(
    tmp_path: Path, reader, text: str, line: int, fragment: str
) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(FormatError) as err:
        reader(path)
    assert f"{path}:{line}:" in str(err.value)
    assert fragment in str(err.value)


def test_image_list_round_trip(tmp_path: Path) -> None:
    write_image_list(tmp_path / "a.train", ["x/images/1.jpg", "x/images/2.jpg"])
    assert read_image_list(tmp_path / "a.train") == ["x/images/1.jpg", "x/images/2.jpg"]


@pytest.mark.parametrize(
    "escape", ["../secret/1.jpg", "x/../../1.jpg", "/etc/1.jpg", "s3://other/1.jpg"]
)
def test_image_list_paths_stay_inside_the_dataset_root(tmp_path: Path, escape: str) -> None:
    (tmp_path / "a.train").write_text(f"x/images/1.jpg\n\n{escape}\n")
    with pytest.raises(
        FormatError, match=f"a.train:3: image path '{re.escape(escape)}' leaves the dataset root"
    ):
        read_image_list(tmp_path / "a.train")


@pytest.mark.parametrize(
    ("image", "label"),
    [
        ("images/train/seq/img/000001.jpg", "labels_with_ids/train/seq/img/000001.txt"),
        ("MOT17/images/train/S/img1/000003.png", "MOT17/labels_with_ids/train/S/img1/000003.txt"),
        ("train/S/img1/000001.jpg", "labels_with_ids/train/S/img1/000001.txt"),
    ],
)
def test_label_path_follows_fairmot(image: str, label: str) -> None:
    assert label_relpath(image) == label


def test_dataset_json_paths_resolve_against_its_folder(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    write_image_list(tmp_path / "lists" / "a.train", ["images/train/s/img/000001.jpg"])
    (tmp_path / "ds.json").write_text(
        json.dumps({"root": "data", "train": {"a": "lists/a.train"}, "classes": ["car"]})
    )
    spec = load_dataset_json(tmp_path / "ds.json")
    assert spec.root == str(tmp_path / "data")
    assert spec.classes == ("car",)
    images = spec.image_paths("train")["a"]
    assert images == [str(tmp_path / "data" / "images/train/s/img/000001.jpg")]
    assert spec.label_path(images[0]) == str(
        tmp_path / "data" / "labels_with_ids/train/s/img/000001.txt"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"root": "r", "train": {"a": "a.train"}, "tset": {}}', "unknown key 'tset'"),
        ('{"train": {"a": "a.train"}}', "missing required key 'root'"),
        ('{"root": "r"}', "at least one image list"),
        ('{\n  "root": "r",\n  "train": {"a": }\n}', ":3: invalid JSON"),
    ],
)
def test_dataset_json_errors_name_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "ds.json").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_dataset_json(tmp_path / "ds.json")
    assert str(tmp_path / "ds.json") in str(err.value)
    assert fragment in str(err.value)


def _image(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.zeros((height, width, 3), np.uint8))


@pytest.fixture
def mot_tree(tmp_path: Path) -> Path:
    """Two labelled MOTChallenge train sequences (one with seqinfo.ini) and a test one without gt."""
    root = tmp_path / "MOT"
    for frame in (1, 2, 3):
        _image(root / "train/SEQ-A/img1" / f"{frame:06d}.jpg", 40, 30)
    (root / "train/SEQ-A/seqinfo.ini").write_text(
        "[Sequence]\nname=SEQ-A\nimWidth=40\nimHeight=30\nframeRate=10\n"
    )
    (root / "train/SEQ-A/gt").mkdir()
    (root / "train/SEQ-A/gt/gt.txt").write_text(
        "1,5,10,10,8,6,1,1,1\n"  # kept
        "1,9,-4,20,10,20,1,1,0.5\n"  # clipped to x 0..6, y 20..30
        "2,5,12,10,8,6,0,1,1\n"  # mark 0: ignored
        "2,9,0,0,4,4,1,1,0\n"  # fully occluded: ignored
        "3,9,50,0,5,5,1,1,1\n"  # outside the image: dropped
        "3,5,30,24,10,6,1,2,1\n"  # class 2, clipped to x 30..40
        "3,6,1,1,2,2,1,7,1\n"  # class 7 is not a dataset class: dropped
    )
    for frame in (1, 2):
        _image(root / "train/SEQ-B/img1" / f"{frame:06d}.jpg", 50, 20)
    (root / "train/SEQ-B/gt").mkdir()
    (root / "train/SEQ-B/gt/gt.txt").write_text("1,1,0,0,10,10,1,1,1\n2,3,10,5,10,10,1,1,1\n")
    _image(root / "test/SEQ-C/img1/000001.jpg", 40, 30)
    return root


def test_gen_labels_on_a_motchallenge_tree(mot_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "labels"
    summary = gen_labels(mot_tree, out, name="mot", classes=("pedestrian", "car"))
    assert (summary.sequences, summary.images, summary.boxes, summary.identities) == (2, 5, 5, 4)
    assert summary.skipped_sequences == ("test/SEQ-C",)
    seq_a = out / "labels_with_ids/train/SEQ-A/img1"
    np.testing.assert_allclose(
        read_labels(seq_a / "000001.txt").tolist(),
        [(0, 0, 0.35, 13 / 30, 0.2, 0.2), (0, 1, 0.075, 25 / 30, 0.15, 10 / 30)],
        atol=1e-6,
    )
    assert (seq_a / "000002.txt").read_text() == ""
    np.testing.assert_allclose(
        read_labels(seq_a / "000003.txt").tolist(), [(1, 0, 0.875, 0.9, 0.25, 0.2)], atol=1e-6
    )
    # SEQ-B has no seqinfo.ini: its 50x20 size comes from the first image; ids continue at 2
    seq_b = out / "labels_with_ids/train/SEQ-B/img1"
    np.testing.assert_allclose(
        read_labels(seq_b / "000001.txt").tolist(), [(0, 2, 0.1, 0.25, 0.2, 0.5)], atol=1e-6
    )
    np.testing.assert_allclose(
        read_labels(seq_b / "000002.txt").tolist(), [(0, 3, 0.3, 0.5, 0.2, 0.5)], atol=1e-6
    )
    assert read_image_list(out / "mot.train") == [
        *(f"train/SEQ-A/img1/{f:06d}.jpg" for f in (1, 2, 3)),
        *(f"train/SEQ-B/img1/{f:06d}.jpg" for f in (1, 2)),
    ]
    spec = load_dataset_json(summary.dataset_json)
    assert (spec.root, spec.labels_root, spec.classes, spec.test) == (
        str(mot_tree),
        str(out),
        ("pedestrian", "car"),
        {},
    )
    first = spec.image_paths("train")["mot"][0]
    assert spec.label_path(first) == str(seq_a / "000001.txt")


def test_gen_labels_on_a_synthetic_airmot_tree(tmp_path: Path) -> None:
    cfg = SynthConfig(
        width=256, height=192, frames=4, videos=2, layout="airmot", test_fraction=0.5, seed=3
    )
    generate_archive(tmp_path / "airmot", cfg, workers=1)
    summary = gen_labels(tmp_path / "airmot", tmp_path / "labels")
    gts = [
        read_gt(tmp_path / "airmot/images" / split / seq / "gt/gt.txt")
        for split, seq in (("train", "synth_0000"), ("test", "synth_0001"))
    ]
    assert summary.sequences == 2
    assert summary.images == 8
    assert summary.boxes == sum(len(gt) for gt in gts)  # synthetic gt has no ignored rows
    assert summary.identities == sum(len(np.unique(gt["id"])) for gt in gts)
    spec = load_dataset_json(summary.dataset_json)
    train = spec.image_paths("train")["dataset"]
    assert len(train) == 4 and len(spec.image_paths("test")["dataset"]) == 4
    labels = read_labels(spec.label_path(train[0]))
    first = gts[0][gts[0]["frame"] == 0]
    boxes = np.stack(
        [first["x"], first["y"], first["x"] + first["w"], first["y"] + first["h"]], axis=1
    )
    expected = labels_from_boxes(
        boxes, first["cls"] - 1, np.searchsorted(np.unique(gts[0]["id"]), first["id"]), 256, 192
    )
    assert labels.dtype == LABEL_DTYPE
    assert labels["cls"].tolist() == expected["cls"].tolist()
    assert labels["id"].tolist() == expected["id"].tolist()
    np.testing.assert_allclose(labels["cx"], expected["cx"], atol=1e-5)
    np.testing.assert_allclose(labels["h"], expected["h"], atol=1e-5)


def test_results_reader_accepts_rows_without_placeholder_columns(tmp_path) -> None:
    """TrackEval reads the first 7 columns, so a 9-column gt file scores as results."""
    from tgram.data.formats import read_results

    path = tmp_path / "gt_as_results.txt"
    path.write_text("1,7,10,20,4,8,1,3,1\n2,7,11,20,4,8,1,3,0.5\n")
    rows = read_results(path)
    assert rows["frame"].tolist() == [0, 1] and rows["id"].tolist() == [7, 7]
    assert rows["score"].tolist() == [1.0, 1.0]
    path.write_text("1,7,10,20,4,8\n")
    with pytest.raises(ValueError, match=r"gt_as_results.txt:1: expected 10 comma-separated"):
        read_results(path)


def test_a_label_class_outside_the_dataset_classes_names_file_and_line(
    mot_tree: Path, tmp_path: Path
) -> None:
    from tgram.data.sources import load_sequences

    out = tmp_path / "labels"
    summary = gen_labels(mot_tree, out, name="mot", classes=("pedestrian", "car"))
    label = out / "labels_with_ids/train/SEQ-A/img1/000003.txt"
    label.write_text("1 0 0.5 0.5 0.1 0.1\n2 0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(
        FormatError, match=f"{label}:2: class 2 is not one of the dataset's 2 classes"
    ):
        load_sequences("dataset_json", str(summary.dataset_json), ("pedestrian", "car"))

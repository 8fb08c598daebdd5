"""Turn a training source into `Sequence`s: a synthetic/MOT archive or a TGraM dataset JSON.

Identities are made global and dense (0..N-1) across all sequences of a source, which is
what the ReID classifier's output layer needs.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Sequence as Seq

import cv2
import numpy as np
import pyarrow.fs as pafs

from tgram import storage
from tgram.classes import CLASS_NAMES, class_name_of_gt_id
from tgram.data.dataset import FrameAnnotations, Sequence
from tgram.data.formats import FormatError, load_dataset_json, read_gt, read_labels
from tgram.data.video import FRAME_DIR_NAMES, read_frames

log = logging.getLogger(__name__)


def load_sequences(
    source: str,
    paths: str | Seq[str],
    classes: Seq[str],
    max_frames_per_video: int | None = None,
) -> list[Sequence]:
    """Sequences of one source or of several of one kind, concatenated; identities of
    different sources stay different (a car of one archive is never one of another's)."""
    if source not in ("archive", "dataset_json"):
        raise ValueError(f"data.source must be 'archive' or 'dataset_json', got {source!r}")
    out: list[Sequence] = []
    for path in [paths] if isinstance(paths, str) else paths:
        if source == "archive":
            sequences = load_archive(path, classes, max_frames_per_video)
        else:
            sequences = load_dataset_json_sequences(path, classes)
        if not sequences:
            raise ValueError(f"{path}: no training sequences found")
        out.extend(_densify_ids(sequences, first=_num_ids(out)))
    return out


def split_validation(
    sequences: list[Sequence], fraction: float = 0.2
) -> tuple[list[Sequence], list[Sequence]]:
    """Hold out the last sequences (whole videos, so no identity leaks into validation)."""
    if len(sequences) < 2:
        raise ValueError("need at least 2 sequences to split off validation; set data.val_path")
    n_val = max(1, round(len(sequences) * fraction))
    return sequences[:-n_val], sequences[-n_val:]


def load_archive(root: str, classes: Seq[str], max_frames: int | None = None) -> list[Sequence]:
    """A `tgram synth` archive (videos/<id>.mp4 + gt/<id>.txt), frames decoded into memory."""
    videos_dir = storage.join(root, "videos")
    fs, path = storage.resolve(videos_dir)
    names = sorted(
        i.base_name
        for i in fs.get_file_info(pafs.FileSelector(path))
        if i.base_name.endswith(".mp4")
    )
    out = []
    for offset, name in enumerate(names):
        video_id = name[: -len(".mp4")]
        gt_uri = storage.join(root, "gt", f"{video_id}.txt")
        gt = read_gt(gt_uri)
        unknown = np.flatnonzero([_safe_class_name(c) is None for c in gt["cls"]])
        if len(unknown):
            raise FormatError(
                f"{gt_uri}:{unknown[0] + 1}: class id {gt['cls'][unknown[0]]} is not a known class "
                f"(1-based ids of {', '.join(CLASS_NAMES)})"
            )
        frames = np.stack(
            [f for _, f in read_frames(storage.join(videos_dir, name), 0, max_frames)]
        )
        annotations = _gt_annotations(gt, len(frames), classes, id_offset=offset << 32)
        out.append(Sequence(video_id, frames.__getitem__, annotations))
    return out


def load_dataset_json_sequences(
    json_uri: str, classes: Seq[str], split: str = "train"
) -> list[Sequence]:
    """Sequences of a dataset JSON's split: images grouped by their sequence folder, in list order."""
    spec = load_dataset_json(json_uri)
    class_map = _class_map(spec.classes, classes)
    out = []
    for list_name, paths in spec.image_paths(split).items():
        groups: dict[str, list[str]] = {}
        for p in paths:
            groups.setdefault(_sequence_key(p), []).append(p)
        for seq_key, images in groups.items():
            height, width = _read_image(images[0]).shape[:2]
            annotations = [
                _label_annotations(spec.label_path(p), width, height, class_map) for p in images
            ]
            name = f"{list_name}/{posixpath.basename(seq_key)}"
            out.append(Sequence(name, lambda i, imgs=images: _read_image(imgs[i]), annotations))
    return out


def _gt_annotations(
    gt: np.ndarray, num_frames: int, classes: Seq[str], id_offset: int
) -> list[FrameAnnotations]:
    names = {name: i for i, name in enumerate(classes)}
    class_idx = np.array([names.get(_safe_class_name(c), -1) for c in gt["cls"]], np.int64)
    keep = (
        (gt["mark"] != 0) & (gt["visibility"] > 0) & (class_idx >= 0) & (gt["frame"] < num_frames)
    )
    gt, class_idx = gt[keep], class_idx[keep]
    boxes = np.stack([gt["x"], gt["y"], gt["x"] + gt["w"], gt["y"] + gt["h"]], axis=1).astype(
        np.float32
    )
    ids = gt["id"].astype(np.int64) + id_offset
    out = []
    for f in range(num_frames):
        m = gt["frame"] == f
        out.append(FrameAnnotations.of(boxes[m], class_idx[m], ids[m], gt["visibility"][m]))
    return out


def _label_annotations(
    uri: str, width: int, height: int, class_map: np.ndarray
) -> FrameAnnotations:
    if not storage.exists(uri):
        return FrameAnnotations.empty()
    rows = read_labels(uri)
    unknown = np.flatnonzero((rows["cls"] < 0) | (rows["cls"] >= len(class_map)))
    if len(unknown):
        raise FormatError(
            f"{uri}:{unknown[0] + 1}: class {rows['cls'][unknown[0]]} is not one of the dataset's "
            f"{len(class_map)} classes (0-based index into its JSON 'classes')"
        )
    cls = class_map[rows["cls"]] if len(rows) else np.zeros(0, np.int64)
    rows = rows[cls >= 0]
    cls = cls[cls >= 0]
    cx, cy, w, h = rows["cx"] * width, rows["cy"] * height, rows["w"] * width, rows["h"] * height
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return FrameAnnotations.of(boxes, cls, rows["id"])


def _num_ids(sequences: list[Sequence]) -> int:
    """One past the largest identity of dense sequences."""
    return max(
        (int(a.ids.max()) + 1 for s in sequences for a in s.annotations if len(a.ids)), default=0
    )


def _densify_ids(sequences: list[Sequence], first: int = 0) -> list[Sequence]:
    """Relabel identities to first..first+N-1 over all sequences, keeping -1 (unlabelled)."""
    all_ids = np.concatenate(
        [a.ids for s in sequences for a in s.annotations] or [np.zeros(0, np.int64)]
    )
    unique = np.unique(all_ids[all_ids >= 0])
    for seq in sequences:
        seq.annotations = [
            a.with_ids(np.where(a.ids >= 0, first + np.searchsorted(unique, a.ids), -1))
            for a in seq.annotations
        ]
    return sequences


def _class_map(dataset_classes: Seq[str], model_classes: Seq[str]) -> np.ndarray:
    """Dataset class index -> model class index (-1: class not trained)."""
    missing = [c for c in model_classes if c not in dataset_classes]
    if missing:
        log.warning(
            "model classes %s do not occur in the dataset classes %s",
            missing,
            list(dataset_classes),
        )
    names = {name: i for i, name in enumerate(model_classes)}
    return np.array([names.get(c, -1) for c in dataset_classes], np.int64)


def _safe_class_name(gt_id: int) -> str | None:
    try:
        return class_name_of_gt_id(int(gt_id))
    except ValueError:
        return None


def _sequence_key(image_path: str) -> str:
    parent = posixpath.dirname(image_path)
    return posixpath.dirname(parent) if posixpath.basename(parent) in FRAME_DIR_NAMES else parent


def _read_image(uri: str) -> np.ndarray:
    data = np.frombuffer(storage.read_bytes(uri), np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{uri}: not a readable image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

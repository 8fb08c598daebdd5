"""Annotation file formats: MOTChallenge/AIR-MOT gt and results, TGraM/FairMOT training inputs.

Tables are numpy structured arrays whose `frame` field is 0-based (the files are 1-based:
the conversion happens only here). Boxes keep the files' convention, top-left/width/height
pixels. Every reader names the file and line of a malformed row, so a bad file among
thousands is found at once. Local paths and s3:// URIs both work (tgram.storage).

TGraM's training inputs follow FairMOT: one `labels_with_ids` text file per image with lines
`class id cx/W cy/H w/W h/H` (class 0-based, id global across the dataset), image list files
with one image path per line relative to the dataset root, and a dataset JSON naming the
lists. The label file of an image is its path with the `images` folder replaced by
`labels_with_ids` (or prefixed with it when there is none) and the suffix by `.txt`, under
`labels_root` when the JSON gives one, else under `root` exactly as FairMOT expects.

The synthetic renderers also write their motion truth here, so both share one definition:
the meta's `platform_shift_px` (`platform_shift`) and a speed side file per video
(`speed_truth`, `write_speed_truth`), which the gt boxes alone cannot give exactly.
"""

from __future__ import annotations

import configparser
import json
import logging
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.fs as pafs

from tgram import storage
from tgram.classes import CLASS_NAMES
from tgram.config import ConfigError, from_dict
from tgram.data.video import FRAME_DIR_NAMES, IMAGE_SUFFIXES

log = logging.getLogger(__name__)

GT_DTYPE = np.dtype(
    [
        ("frame", np.int32),
        ("id", np.int64),
        ("x", np.float32),
        ("y", np.float32),
        ("w", np.float32),
        ("h", np.float32),
        ("mark", np.int8),
        ("cls", np.int16),
        ("visibility", np.float32),
    ]
)
"""One gt box: 0-based frame, identity, tlwh pixels, mark (0 = ignore), 1-based gt class id
as in the file (see tgram.classes), visible fraction in [0, 1]."""

RESULT_DTYPE = np.dtype(
    [
        ("frame", np.int32),
        ("id", np.int64),
        ("x", np.float32),
        ("y", np.float32),
        ("w", np.float32),
        ("h", np.float32),
        ("score", np.float32),
    ]
)
"""One tracker output box: 0-based frame, track id, tlwh pixels, confidence."""

LABEL_DTYPE = np.dtype(
    [
        ("cls", np.int32),
        ("id", np.int64),
        ("cx", np.float32),
        ("cy", np.float32),
        ("w", np.float32),
        ("h", np.float32),
    ]
)
"""One labels_with_ids row: 0-based class, global identity (-1 = none), centre and size
normalised by the image width and height."""

SPEED_DTYPE = np.dtype(
    [
        ("frame", np.int32),
        ("id", np.int64),
        ("vx_mps", np.float32),
        ("vy_mps", np.float32),
        ("speed_mps", np.float32),
    ]
)
"""One speed truth row (synthetic videos): 0-based frame and identity of a gt row, the
object's velocity over the ground in m/s in image axes (x right, y down) and its magnitude."""

POSITION_DTYPE = np.dtype(
    [("frame", np.int32), ("id", np.int64), ("x", np.float64), ("y", np.float64)]
)
"""Where a renderer put an object (its gt id) in 0-based frame `frame`: world pixels, which
carry no platform motion. In memory only: the input of `speed_truth`."""

SPLITS = ("train", "test")
LABELS_DIR = "labels_with_ids"


class FormatError(ValueError):
    """A malformed annotation file; the one-line message names the file and line."""


@dataclass(frozen=True)
class _Table:
    """How one kind of text table is laid out in its files."""

    what: str
    dtype: np.dtype
    decimals: dict[str, int]
    """Decimals written for the float fields; the other fields are integers."""
    separator: str
    trailing: int = 0
    """Placeholder columns written as -1 after the fields and ignored when read; like
    TrackEval, readers accept rows that leave them out (so a gt file can be read as results)."""
    header: bool = False
    """Files start with a line of the field names (checked and skipped when read): the newer,
    self-describing tables; the MOTChallenge ones have none."""

    @property
    def width(self) -> int:
        return len(self.dtype.names) + self.trailing

    @property
    def header_line(self) -> str:
        return self.separator.join(self.dtype.names)

    def expected(self) -> str:
        sep = "comma-separated" if self.separator == "," else "space-separated"
        names = ",".join([*self.dtype.names, *["-1"] * self.trailing])
        return f"{self.width} {sep} numbers ({names})"


_GT = _Table("MOTChallenge gt", GT_DTYPE, {"x": 2, "y": 2, "w": 2, "h": 2, "visibility": 3}, ",")
_RESULTS = _Table(
    "MOTChallenge results",
    RESULT_DTYPE,
    {"x": 2, "y": 2, "w": 2, "h": 2, "score": 4},
    ",",
    trailing=3,
)
_LABELS = _Table("labels_with_ids", LABEL_DTYPE, {"cx": 6, "cy": 6, "w": 6, "h": 6}, " ")
_SPEEDS = _Table(
    "speed truth",
    SPEED_DTYPE,
    {"vx_mps": 3, "vy_mps": 3, "speed_mps": 3},
    ",",
    header=True,
)


def read_gt(uri: str | Path) -> np.ndarray:
    """MOTChallenge/AIR-MOT gt `frame,id,x,y,w,h,mark,class,visibility` as GT_DTYPE rows."""
    return _read_table(uri, _GT)


def write_gt(uri: str | Path, rows: np.ndarray) -> None:
    _write_table(uri, rows, _GT)


def read_results(uri: str | Path) -> np.ndarray:
    """MOTChallenge results `frame,id,x,y,w,h,score,-1,-1,-1` as RESULT_DTYPE rows."""
    return _read_table(uri, _RESULTS)


def write_results(uri: str | Path, rows: np.ndarray) -> None:
    _write_table(uri, rows, _RESULTS)


def read_labels(uri: str | Path) -> np.ndarray:
    """One image's labels_with_ids file as LABEL_DTYPE rows."""
    return _read_table(uri, _LABELS)


def write_labels(uri: str | Path, rows: np.ndarray) -> None:
    _write_table(uri, rows, _LABELS)


def read_speed_truth(uri: str | Path) -> np.ndarray:
    """A speed truth file `frame,id,vx_mps,vy_mps,speed_mps` (header line first) as SPEED_DTYPE rows."""
    return _read_table(uri, _SPEEDS)


def write_speed_truth(uri: str | Path, rows: np.ndarray) -> None:
    _write_table(uri, rows, _SPEEDS)


def labels_from_boxes(
    boxes_xyxy: np.ndarray, classes: np.ndarray, ids: np.ndarray, width: int, height: int
) -> np.ndarray:
    """LABEL_DTYPE rows for pixel xyxy boxes in a `width` x `height` image."""
    boxes = np.asarray(boxes_xyxy, np.float64).reshape(-1, 4)
    rows = np.zeros(len(boxes), LABEL_DTYPE)
    rows["cls"] = classes
    rows["id"] = ids
    rows["cx"] = (boxes[:, 0] + boxes[:, 2]) / 2 / width
    rows["cy"] = (boxes[:, 1] + boxes[:, 3]) / 2 / height
    rows["w"] = (boxes[:, 2] - boxes[:, 0]) / width
    rows["h"] = (boxes[:, 3] - boxes[:, 1]) / height
    return rows


def read_image_list(uri: str | Path) -> list[str]:
    """Image paths of a list file, one per line (blank lines ignored), each relative to the
    dataset root and inside it: an absolute path, a URI or a '..' step is an error."""
    paths = []
    for number, line in enumerate(storage.read_bytes(uri).decode().splitlines(), 1):
        path = line.strip()
        if not path:
            continue
        if path.startswith(("/", "\\")) or "://" in path or ".." in re.split(r"[/\\]", path):
            raise FormatError(
                f"{uri}:{number}: image path {path!r} leaves the dataset root "
                "(expected a path relative to it)"
            )
        paths.append(path)
    return paths


def write_image_list(uri: str | Path, paths: Sequence[str]) -> None:
    storage.write_bytes(uri, "".join(f"{p}\n" for p in paths).encode())


# --- tables --------------------------------------------------------------------------------


def _read_table(uri: str | Path, table: _Table) -> np.ndarray:
    """Parse with Arrow's CSV reader; if it or a value check fails, parse line by line to
    report the first bad line (and to accept what Arrow is too strict for, e.g. runs of spaces)."""
    data = storage.read_bytes(uri)
    if table.header:
        _check_header(uri, data, table)
    values = _parse_arrow(data, table)
    if values is None or _first_problem(table, values) is not None:
        values, line_numbers = _parse_lines(uri, data.decode(), table)
        problem = _first_problem(table, values)
        if problem is not None:
            row, message = problem
            raise FormatError(
                f"{uri}:{line_numbers[row]}: {message} ({table.what}: {table.expected()})"
            )
    rows = np.zeros(len(values), table.dtype)
    for col, name in enumerate(table.dtype.names):
        rows[name] = values[:, col]
    if "frame" in table.dtype.names:
        rows["frame"] -= 1
    return rows


def _check_header(uri: str | Path, data: bytes, table: _Table) -> None:
    first = data.split(b"\n", 1)[0].decode(errors="replace").strip()
    if first != table.header_line:
        raise FormatError(
            f"{uri}:1: expected the header line {table.header_line!r}, got {first!r} ({table.what})"
        )


def _parse_arrow(data: bytes, table: _Table) -> np.ndarray | None:
    names = [f"c{i}" for i in range(table.width)]
    try:
        parsed = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=int(table.header)),
            parse_options=pacsv.ParseOptions(delimiter=table.separator),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float64())),
        )
    except pa.ArrowInvalid:
        return None  # also an empty file: the line parser says what is wrong, if anything
    return np.stack(
        [parsed[name].to_numpy(zero_copy_only=False) for name in names], axis=1
    ).reshape(-1, table.width)


def _parse_lines(uri: str | Path, text: str, table: _Table) -> tuple[np.ndarray, list[int]]:
    line_numbers: list[int] = []
    values: list[list[float]] = []
    separator = None if table.separator == " " else table.separator
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or (table.header and number == 1):
            continue
        parts = line.split(separator)
        if not len(table.dtype.names) <= len(parts) <= table.width:
            raise FormatError(
                f"{uri}:{number}: expected {table.expected()}, got {len(parts)} values: {line.strip()!r}"
            )
        try:
            values.append([float(p) for p in parts] + [-1.0] * (table.width - len(parts)))
        except ValueError:
            raise FormatError(
                f"{uri}:{number}: expected {table.expected()}, got {line.strip()!r}"
            ) from None
        line_numbers.append(number)
    return np.array(values, np.float64).reshape(-1, table.width), line_numbers


def _first_problem(table: _Table, values: np.ndarray) -> tuple[int, str] | None:
    """(row, message) of the first non-finite number, fractional integer, integer its column
    cannot hold, or frame before 1."""
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        return int(np.flatnonzero(bad)[0]), "expected finite numbers"
    for col, name in enumerate(table.dtype.names):
        if name in table.decimals:
            continue
        column = values[:, col]
        fractional = column != np.round(column)
        if fractional.any():
            return int(np.flatnonzero(fractional)[0]), f"column '{name}' must be an integer"
        limits = np.iinfo(table.dtype[name])
        outside = (column < limits.min) | (column > limits.max)
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            return (
                row,
                f"column '{name}' value {column[row]:.0f} outside [{limits.min}, {limits.max}]",
            )
        if name == "frame" and (column < 1).any():
            return int(
                np.flatnonzero(column < 1)[0]
            ), "column 'frame' must be >= 1 (frames are 1-based)"
    return None


def _write_table(uri: str | Path, rows: np.ndarray, table: _Table) -> None:
    rows = np.asarray(rows)
    if rows.dtype != table.dtype:
        raise TypeError(
            f"{uri}: expected {table.what} rows of dtype {table.dtype}, got {rows.dtype}"
        )
    columns: dict[str, np.ndarray] = {}
    for name in table.dtype.names:
        if name in table.decimals:
            columns[name] = np.round(rows[name].astype(np.float64), table.decimals[name])
        else:
            columns[name] = rows[name].astype(np.int64) + (1 if name == "frame" else 0)
    for k in range(table.trailing):
        columns[f"-{k}"] = np.full(len(rows), -1, np.int8)
    sink = pa.BufferOutputStream()
    options = pacsv.WriteOptions(
        include_header=False, delimiter=table.separator, quoting_style="none"
    )
    if table.header:
        sink.write(f"{table.header_line}\n".encode())
    pacsv.write_csv(pa.table(columns), sink, options)
    storage.write_bytes(uri, sink.getvalue().to_pybytes())


# --- dataset JSON ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSpec:
    """A TGraM/FairMOT dataset JSON: where images and labels are, and which lists to train on.

    Relative `root`, `labels_root` and list-file paths are taken relative to the JSON file's
    folder by `load_dataset_json`, so a dataset folder can be moved or synced to s3:// whole.
    """

    root: str
    train: dict[str, str] = field(default_factory=dict)
    """List name -> image list file."""
    test: dict[str, str] = field(default_factory=dict)
    classes: tuple[str, ...] = CLASS_NAMES
    """Class names in label order (labels_with_ids class k is classes[k])."""
    labels_root: str | None = None
    """Folder holding `labels_with_ids/`; None: the dataset root (FairMOT's layout)."""

    def __post_init__(self) -> None:
        if not self.train and not self.test:
            raise ValueError("expected at least one image list under 'train' or 'test'")
        for split in SPLITS:
            for name, list_file in getattr(self, split).items():
                if not isinstance(list_file, str) or not list_file:
                    raise ValueError(
                        f"key '{split}.{name}' must be an image list path, got {list_file!r}"
                    )
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise ValueError(
                f"key 'classes' must be a non-empty list of distinct names, got {list(self.classes)}"
            )

    def image_paths(self, split: str) -> dict[str, list[str]]:
        """List name -> image paths (joined onto `root`) of one split."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r} (expected one of: {', '.join(SPLITS)})")
        return {
            name: [storage.join(self.root, path) for path in read_image_list(list_file)]
            for name, list_file in getattr(self, split).items()
        }

    def label_path(self, image_path: str) -> str:
        """The labels_with_ids file of an image path returned by `image_paths`."""
        root = self.root.rstrip("/")
        if not image_path.startswith(root + "/"):
            raise ValueError(f"image {image_path!r} is not under the dataset root {root!r}")
        return storage.join(self.labels_root or root, label_relpath(image_path[len(root) + 1 :]))


def label_relpath(image_relpath: str) -> str:
    """FairMOT's rule: the `images` folder becomes `labels_with_ids`, the suffix `.txt`."""
    parts = posixpath.splitext(image_relpath)[0].split("/")
    if "images" in parts:
        parts[parts.index("images")] = LABELS_DIR
    else:
        parts.insert(0, LABELS_DIR)
    return "/".join(parts) + ".txt"


def load_dataset_json(uri: str | Path) -> DatasetSpec:
    """Read and validate a dataset JSON; relative paths in it are resolved against its folder."""
    uri = str(uri)
    try:
        data = json.loads(storage.read_bytes(uri))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{uri}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    spec = from_dict(DatasetSpec, data, source=uri)
    base = posixpath.dirname(uri) if storage.is_s3(uri) else str(Path(uri).resolve().parent)

    def resolve(path: str) -> str:
        return path if storage.is_s3(path) or Path(path).is_absolute() else storage.join(base, path)

    return replace(
        spec,
        root=resolve(spec.root),
        labels_root=resolve(spec.labels_root) if spec.labels_root else None,
        train={name: resolve(p) for name, p in spec.train.items()},
        test={name: resolve(p) for name, p in spec.test.items()},
    )


# --- gen-labels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelSummary:
    """What gen_labels wrote."""

    sequences: int
    images: int
    boxes: int
    identities: int
    skipped_sequences: tuple[str, ...]
    """Sequences without gt/gt.txt (e.g. a MOTChallenge test split): not labelled."""
    dataset_json: str

    def __str__(self) -> str:
        skipped = (
            f", skipped {len(self.skipped_sequences)} without gt" if self.skipped_sequences else ""
        )
        return (
            f"{self.sequences} sequences, {self.images} images, {self.boxes} boxes, "
            f"{self.identities} identities{skipped} -> {self.dataset_json}"
        )


@dataclass(frozen=True)
class _SequenceDir:
    split: str
    name: str
    path: str
    """Sequence folder (holds gt/ and img/ or img1/)."""
    frame_dir: str


def gen_labels(
    root: str | Path,
    out: str | Path,
    *,
    name: str = "dataset",
    classes: Sequence[str] = CLASS_NAMES,
) -> LabelSummary:
    """Turn an AIR-MOT or MOTChallenge tree into labels_with_ids, image lists and a dataset JSON.

    AIR-MOT: `root/images/{train,test}/<seq>/img/*.jpg` + `<seq>/gt/gt.txt`; MOTChallenge:
    `root/{train,test}/<seq>/img1/*.jpg` + `gt/gt.txt` (+ `seqinfo.ini`). gt class c becomes
    label class c-1 for c in 1..len(classes); other classes, rows with mark 0 (ignore) or
    visibility 0, and boxes that lie wholly outside the image are dropped, as MOTChallenge's
    evaluation does; the rest are clipped to the image. Identities are numbered 0.. across
    all sequences, train first, so each sequence's ids are offset past the previous ones.
    Writes `out/labels_with_ids/...`, `out/<name>.{train,test}` and `out/<name>.json`.
    """
    root_uri, out_uri = _absolute(root), _absolute(out)
    sequences = _find_sequences(root_uri)
    if not sequences:
        raise FileNotFoundError(
            f"{root}: no sequences found (expected images/{{train,test}}/<seq>/img or {{train,test}}/<seq>/img1)"
        )
    lists: dict[str, list[str]] = {split: [] for split in SPLITS}
    next_id = boxes = images = 0
    skipped: list[str] = []
    for seq in sequences:
        gt_uri = storage.join(seq.path, "gt", "gt.txt")
        if not storage.exists(gt_uri):
            log.warning("%s: no gt/gt.txt, sequence not labelled", seq.path)
            skipped.append(f"{seq.split}/{seq.name}")
            continue
        frame_uris = _frame_images(seq)
        width, height = _frame_size(seq, frame_uris[min(frame_uris)])
        per_frame, n_ids = _sequence_labels(
            read_gt(gt_uri), gt_uri, width, height, len(classes), next_id
        )
        unknown = sorted(set(per_frame) - set(frame_uris))
        if unknown:
            raise FormatError(f"{gt_uri}: frame {unknown[0] + 1} has no image in {seq.frame_dir}")
        empty = np.zeros(0, LABEL_DTYPE)
        for frame, image_uri in sorted(frame_uris.items()):
            relpath = image_uri[len(root_uri) + 1 :]
            write_labels(storage.join(out_uri, label_relpath(relpath)), per_frame.get(frame, empty))
            lists[seq.split].append(relpath)
        next_id += n_ids
        boxes += sum(len(rows) for rows in per_frame.values())
        images += len(frame_uris)
    spec: dict[str, object] = {"root": root_uri, "labels_root": out_uri, "classes": list(classes)}
    for split in SPLITS:
        spec[split] = {}
        if lists[split]:
            write_image_list(storage.join(out_uri, f"{name}.{split}"), lists[split])
            spec[split] = {name: f"{name}.{split}"}
    json_uri = storage.join(out_uri, f"{name}.json")
    storage.write_bytes(json_uri, (json.dumps(spec, indent=2) + "\n").encode())
    return LabelSummary(
        len(sequences) - len(skipped), images, boxes, next_id, tuple(skipped), json_uri
    )


def _sequence_labels(
    gt: np.ndarray, gt_uri: str, width: int, height: int, num_classes: int, id_offset: int
) -> tuple[dict[int, np.ndarray], int]:
    """Per 0-based frame LABEL_DTYPE rows of one sequence, and how many identities it has."""
    x1 = np.clip(gt["x"], 0, width)
    y1 = np.clip(gt["y"], 0, height)
    x2 = np.clip(gt["x"] + gt["w"], 0, width)
    y2 = np.clip(gt["y"] + gt["h"], 0, height)
    keep = (
        (gt["mark"] != 0)
        & (gt["visibility"] > 0)
        & (gt["cls"] >= 1)
        & (gt["cls"] <= num_classes)
        & (x2 > x1)
        & (y2 > y1)
    )
    if (~keep).any():
        log.info(
            "%s: %d of %d rows ignored or outside the image", gt_uri, int((~keep).sum()), len(gt)
        )
    gt = gt[keep]
    unique_ids, local_ids = np.unique(gt["id"], return_inverse=True)
    rows = labels_from_boxes(
        np.stack([x1[keep], y1[keep], x2[keep], y2[keep]], axis=1),
        gt["cls"].astype(np.int32) - 1,
        local_ids + id_offset,
        width,
        height,
    )
    per_frame = {int(f): rows[gt["frame"] == f] for f in np.unique(gt["frame"])}
    return per_frame, len(unique_ids)


def _absolute(uri: str | Path) -> str:
    return str(uri).rstrip("/") if storage.is_s3(str(uri)) else str(Path(uri).resolve())


def _find_sequences(root_uri: str) -> list[_SequenceDir]:
    """Sequences of the AIR-MOT (`images/<split>`) or MOTChallenge (`<split>`) layout."""
    fs, _ = storage.resolve(root_uri)
    found: list[_SequenceDir] = []
    for split in SPLITS:
        for split_uri in (storage.join(root_uri, "images", split), storage.join(root_uri, split)):
            for seq_info in _subdirs(fs, split_uri):
                seq_uri = storage.join(split_uri, seq_info.base_name)
                frame_dirs = {d.base_name for d in _subdirs(fs, seq_uri)} & set(FRAME_DIR_NAMES)
                if frame_dirs:
                    frame_dir = storage.join(seq_uri, min(frame_dirs))
                    found.append(_SequenceDir(split, seq_info.base_name, seq_uri, frame_dir))
    return found


def _subdirs(fs: pafs.FileSystem, uri: str) -> list[pafs.FileInfo]:
    _, path = storage.resolve(uri)
    if fs.get_file_info(path).type != pafs.FileType.Directory:
        return []
    entries = fs.get_file_info(pafs.FileSelector(path))
    return sorted(
        (e for e in entries if e.type == pafs.FileType.Directory), key=lambda e: e.base_name
    )


def _frame_images(seq: _SequenceDir) -> dict[int, str]:
    """0-based frame -> image URI, from frame-numbered names (000001.jpg is frame 0)."""
    fs, path = storage.resolve(seq.frame_dir)
    frames: dict[int, str] = {}
    for entry in fs.get_file_info(pafs.FileSelector(path)):
        stem, suffix = posixpath.splitext(entry.base_name)
        if entry.type != pafs.FileType.File or suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if not stem.isdigit() or int(stem) < 1:
            raise FormatError(
                f"{seq.frame_dir}/{entry.base_name}: expected a 1-based frame-numbered name like 000001{suffix}"
            )
        frames[int(stem) - 1] = storage.join(seq.frame_dir, entry.base_name)
    if not frames:
        raise FormatError(f"{seq.frame_dir}: no images ({', '.join(IMAGE_SUFFIXES)})")
    return frames


def _frame_size(seq: _SequenceDir, first_image_uri: str) -> tuple[int, int]:
    """(width, height) from seqinfo.ini `imWidth`/`imHeight`, else from the first image."""
    seqinfo_uri = storage.join(seq.path, "seqinfo.ini")
    if storage.exists(seqinfo_uri):
        parser = configparser.ConfigParser()
        try:
            parser.read_string(storage.read_bytes(seqinfo_uri).decode())
            return parser.getint("Sequence", "imWidth"), parser.getint("Sequence", "imHeight")
        except (configparser.Error, ValueError) as exc:
            reason = str(exc).splitlines()[0]
            raise FormatError(
                f"{seqinfo_uri}: expected [Sequence] imWidth and imHeight integers: {reason}"
            ) from None
    image = cv2.imdecode(
        np.frombuffer(storage.read_bytes(first_image_uri), np.uint8), cv2.IMREAD_UNCHANGED
    )
    if image is None:
        raise FormatError(f"{first_image_uri}: not a decodable image")
    return image.shape[1], image.shape[0]


# --- synthetic motion truth ----------------------------------------------------------------


def speed_truth(gt: np.ndarray, positions: np.ndarray, gsd_m: float, fps: float) -> np.ndarray:
    """SPEED_DTYPE rows, one per `gt` row in its order: each object's ground velocity.

    Taken from the renderer's world positions (POSITION_DTYPE rows, every frame an object
    is in the world whether seen or not), not from the gt boxes: those are rounded, clipped
    at the frame edge and carry the platform motion. Central differences over frames,
    one-sided at the ends of a run of consecutive frames (0 for a lone frame), times
    gsd_m * fps; an object whose position does not change (parked) gets exactly 0.
    Rounded as written (3 decimals), so what is read back equals what is returned.
    """
    p = positions[np.lexsort((positions["frame"], positions["id"]))]
    same = p["id"][1:] == p["id"][:-1]
    step = p["frame"][1:].astype(np.int64) - p["frame"][:-1]
    if (same & (step == 0)).any():
        at = int(np.flatnonzero(same & (step == 0))[0])
        raise ValueError(f"object {p['id'][at]} has two positions in frame {p['frame'][at]}")
    index = np.arange(len(p))
    previous = np.where(np.r_[False, same & (step == 1)], index - 1, index)
    following = np.where(np.r_[same & (step == 1), False], index + 1, index)
    frames = np.maximum(following - previous, 1)
    vx = (p["x"][following] - p["x"][previous]) / frames * (gsd_m * fps)
    vy = (p["y"][following] - p["y"][previous]) / frames * (gsd_m * fps)
    at = _find_rows(p, gt)
    rows = np.zeros(len(gt), SPEED_DTYPE)
    rows["frame"], rows["id"] = gt["frame"], gt["id"]
    rows["vx_mps"] = np.round(vx[at], 3) + 0.0
    rows["vy_mps"] = np.round(vy[at], 3) + 0.0
    rows["speed_mps"] = np.round(np.hypot(vx[at], vy[at]), 3) + 0.0
    return rows


def _find_rows(positions: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Index into `positions` (sorted by id, then frame) of each gt row's (frame, id)."""
    if not len(gt):
        return np.zeros(0, np.int64)
    low = min(int(positions["id"].min(initial=0)), int(gt["id"].min()))
    span = max(int(positions["frame"].max(initial=0)), int(gt["frame"].max())) + 1
    keys = (positions["id"] - low) * span + positions["frame"]
    wanted = (gt["id"].astype(np.int64) - low) * span + gt["frame"]
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    missing = np.flatnonzero(keys[at] != wanted) if len(keys) else np.arange(len(gt))
    if len(missing):
        row = gt[missing[0]]
        raise ValueError(f"gt object {row['id']} has no world position in frame {row['frame'] + 1}")
    return at

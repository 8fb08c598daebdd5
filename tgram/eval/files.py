"""`evaluate_files`: MOTChallenge gt and results files (local or s3://) -> EvalReport."""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Sequence
from pathlib import Path

import pyarrow.fs as pafs

from tgram import storage
from tgram.classes import CLASS_NAMES
from tgram.data.formats import read_gt, read_results
from tgram.eval.overlaps import Matching, MatchKind
from tgram.eval.report import EvalReport, evaluate

log = logging.getLogger(__name__)


def evaluate_files(
    gt: str | Path | Sequence[str | Path],
    res: str | Path,
    *,
    match: MatchKind = Matching.kind,
    iou_threshold: float = Matching.iou_threshold,
    center_threshold_px: float = Matching.center_threshold_px,
    per_class: bool = False,
) -> EvalReport:
    """Score MOTChallenge results files against gt files, local or s3://.

    `gt` is a folder of `<video_id>.txt` files, a tree holding `<seq>/gt/gt.txt` (AIR-MOT,
    MOTChallenge), one gt file, or a list of gt files; `res` a folder of `<video_id>.txt`
    or, for a single gt file, one results file. A gt video whose results file is missing
    counts as all misses; results files without gt are ignored. `per_class` also scores each
    of CLASS_NAMES by the gt class column (results files carry no class).
    """
    gt_uris = gt_files(gt)
    single_pair = len(gt_uris) == 1 and not storage.is_dir(res)
    res_uris = {
        name: str(res) if single_pair else storage.join(res, f"{name}.txt") for name in gt_uris
    }
    present = {name: uri for name, uri in res_uris.items() if storage.exists(uri)}
    if not present:
        raise FileNotFoundError(f"{res}: no results file for any of the {len(gt_uris)} gt videos")
    for name in sorted(set(gt_uris) - set(present)):
        log.warning("%s: missing, video %s scored as all misses", res_uris[name], name)
    return evaluate(
        {name: read_gt(uri) for name, uri in gt_uris.items()},
        {name: read_results(uri) for name, uri in present.items()},
        match=match,
        iou_threshold=iou_threshold,
        center_threshold_px=center_threshold_px,
        classes=CLASS_NAMES if per_class else None,
    )


def gt_files(gt: str | Path | Sequence[str | Path]) -> dict[str, str]:
    """Video id -> gt file: `<id>.txt` at the top of a folder, `<id>/gt/gt.txt` anywhere."""
    if not isinstance(gt, (str, Path)):
        files = [_gt_file_id(str(uri)) for uri in gt]
    elif storage.is_dir(gt):
        files = _gt_files_in(str(gt))
    elif storage.exists(gt):
        files = [_gt_file_id(str(gt))]
    else:
        raise FileNotFoundError(f"{gt}: no such gt file or folder")
    found: dict[str, str] = {}
    for name, uri in files:
        if name in found:
            raise ValueError(f"video id {name!r} has two gt files: {found[name]} and {uri}")
        found[name] = uri
    if not found:
        raise FileNotFoundError(f"{gt}: no gt files (expected <video_id>.txt or <seq>/gt/gt.txt)")
    return dict(sorted(found.items()))


def _gt_files_in(folder: str) -> list[tuple[str, str]]:
    fs, root = storage.resolve(folder)
    prefix = "s3://" if storage.is_s3(folder) else ""
    files = []
    for entry in fs.get_file_info(pafs.FileSelector(root, recursive=True)):
        relative = posixpath.relpath(entry.path, root)
        parts = relative.split("/")
        top_level_txt = len(parts) == 1 and relative.endswith(".txt")
        tree_gt = len(parts) >= 3 and parts[-2:] == ["gt", "gt.txt"]
        if entry.type == pafs.FileType.File and (top_level_txt or tree_gt):
            files.append(_gt_file_id(prefix + entry.path))
    return files


def _gt_file_id(uri: str) -> tuple[str, str]:
    """(video id, uri): the sequence folder name for `<seq>/gt/gt.txt`, else the file stem."""
    parts = uri.rstrip("/").split("/")
    if parts[-2:] == ["gt", "gt.txt"] and len(parts) >= 3:
        return parts[-3], uri
    return posixpath.splitext(parts[-1])[0], uri

"""Where ONNX exports are cached, and the record that a weights file's export passed its check.

`tgram.model.onnx` caches exports by a hash of the model's tensors, so finding one needs the
model built in PyTorch, and each use checks it against eager PyTorch again. A batch driver
only hands the export to its model actors: for it, `CheckedExports` remembers an export that
passed the check under the key of the weights file's SHA-256 (which the job computes anyway
for its run identity; the peak rule is in the file's config), the candidate rule and the torch / ONNX
Runtime versions and opset that the check ran with. On a hit the driver reads two small files
and builds no model: no torch.load, no eager forward passes (a 40-short-video job's driver:
1.1-1.25 CPU-s against 1.9-2.0 before; issue 16's driver share). The record holds the export's SHA-256, so a damaged file is a miss, not a
wrong network. The int8 runtime records its quantised exports here too, under the SHA-256 of
the fp32 export they were made from (`onnx.int8_network`). No torch here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tgram.model.ort import OnnxNetwork

log = logging.getLogger(__name__)

OPSET = 17
CANDIDATE_RULE = "candidates: score floor input, 1 per 8 cells"
"""How the graph picks candidates (`decode.candidates`), in every cache key: exports of an
older rule (a fixed top 2,000 cells) are misses, not wrong networks."""
EXPORT_CACHE_ENV = "TGRAM_CACHE_DIR"
"""Folder whose `onnx/` holds exported networks (default ~/.cache/tgram); read-only is fine."""


def cache_root() -> Path:
    """The folder exports are cached in."""
    root = os.environ.get(EXPORT_CACHE_ENV) or Path.home() / ".cache" / "tgram"
    return Path(root) / "onnx"


def package_version(name: str) -> str:
    """An installed package's version, or 'none'."""
    try:
        return version(name)
    except PackageNotFoundError:
        return "none"


class CheckedExports:
    """Exports that passed their check (`onnx._checked`, or `quantize.check_quantised` with
    `int8`), found by the SHA-256 of what they were made from: the weights file, or for a
    quantised export also the fp32 export."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = (root or cache_root()) / "checked"

    def key(self, weights_sha256: str, *, int8: bool = False) -> str:
        """Everything the check's verdict depends on besides the weights' bytes."""
        text = (
            f"{weights_sha256} {CANDIDATE_RULE} torch {package_version('torch')} "
            f"onnxruntime {package_version('onnxruntime')} opset {OPSET}"
        ) + (" int8" if int8 else "")
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def find(self, weights_sha256: str, *, int8: bool = False) -> OnnxNetwork | None:
        """The checked export (fp32, or quantised with `int8`) of these weights, or None
        (never checked, or damaged)."""
        stem = self.root / self.key(weights_sha256, int8=int8)
        try:
            record = json.loads(stem.with_suffix(".json").read_text())
            onnx = stem.with_suffix(".onnx").read_bytes()
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or hashlib.sha256(onnx).hexdigest() != record.get(
            "onnx_sha256"
        ):
            log.info("%s: checked export damaged; checking it again", stem)
            return None
        try:
            return OnnxNetwork(
                onnx,
                int(record["frames"]),
                tuple(str(c) for c in record["classes"]),
                int(record["emb_dim"]),
                record["peaks"],
            )
        except (KeyError, TypeError, ValueError):
            return None

    def remember(self, weights_sha256: str, network: OnnxNetwork, *, int8: bool = False) -> None:
        """Record `network` (checked) for these weights; the record is written last and
        atomically, so a reader sees all of it or a miss. A cache that cannot be written is
        skipped."""
        stem = self.root / self.key(weights_sha256, int8=int8)
        record = {
            "onnx_sha256": hashlib.sha256(network.onnx).hexdigest(),
            "frames": network.frames,
            "classes": list(network.classes),
            "emb_dim": network.emb_dim,
            "peaks": network.peaks,
        }
        try:
            write_atomic(stem.with_suffix(".onnx"), network.onnx)
            write_atomic(stem.with_suffix(".json"), json.dumps(record).encode())
        except OSError as error:
            log.debug("%s: checked export not recorded (%s)", stem, error)


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename: processes writing the same file at once (model
    actors starting together) never leave a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        try:
            tmp.write(data)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise
    try:
        os.replace(tmp.name, path)
    except OSError:
        Path(tmp.name).unlink(missing_ok=True)
        raise

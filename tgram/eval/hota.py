"""HOTA, DetA and AssA (Luiten et al., IJCV 2021) as TrackEval computes them: each frame is
matched by maximising similarity weighted by how well the two ids align over the whole video,
and the scores are averaged over the localisation thresholds alpha = 0.05..0.95."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tgram.eval.overlaps import Frame

HOTA_ALPHAS = np.arange(1, 20) / 20
"""Localisation thresholds HOTA averages over (0.05, 0.10, ..., 0.95), as in TrackEval."""

_EPS = np.finfo(np.float64).eps


@dataclass(frozen=True)
class HotaCounts:
    """Per-alpha detection counts and AssA of one video; sums and TP-weighted AssA combine."""

    tp: np.ndarray
    fn: np.ndarray
    fp: np.ndarray
    assa: np.ndarray

    @staticmethod
    def combine(parts: Sequence[HotaCounts]) -> HotaCounts:
        tp = np.sum([p.tp for p in parts], axis=0)
        assa = np.sum([p.assa * p.tp for p in parts], axis=0) / np.maximum(tp, 1e-10)
        return HotaCounts(
            tp, np.sum([p.fn for p in parts], axis=0), np.sum([p.fp for p in parts], axis=0), assa
        )

    def scores(self) -> dict[str, float]:
        deta = self.tp / np.maximum(1, self.tp + self.fn + self.fp)
        hota = np.sqrt(deta * self.assa)
        return {
            "hota": float(hota.mean()),
            "deta": float(deta.mean()),
            "assa": float(self.assa.mean()),
        }


def hota_counts(frames: Sequence[Frame]) -> HotaCounts:
    """TP/FN/FP and AssA per alpha for one video (TrackEval's HOTA algorithm).

    An id pair is one integer key, gt index * number of result ids + result index, and its
    statistics are kept per key that ever overlaps, never as dense id x id matrices.
    """
    if not frames:
        return HotaCounts(*np.zeros((4, len(HOTA_ALPHAS))))
    gt_ids, gt_index = np.unique(concat([f.gt_ids for f in frames]), return_inverse=True)
    res_ids, res_index = np.unique(concat([f.res_ids for f in frames]), return_inverse=True)
    gt_count = np.bincount(gt_index, minlength=len(gt_ids))
    res_count = np.bincount(res_index, minlength=len(res_ids))
    n_res = max(len(res_ids), 1)
    gt_offsets = np.cumsum([0] + [len(f.gt_ids) for f in frames])
    res_offsets = np.cumsum([0] + [len(f.res_ids) for f in frames])
    frame_keys = [
        gt_index[g0 + f.overlaps.rows] * n_res + res_index[r0 + f.overlaps.cols]
        for f, g0, r0 in zip(frames, gt_offsets[:-1], res_offsets[:-1], strict=True)
    ]

    # Global alignment of an id pair: its per-frame share of similarity summed over the video,
    # as an IoU over the two ids' lifetimes.
    shares = []
    for f in frames:
        o = f.overlaps
        row_sum = np.bincount(o.rows, o.similarity, minlength=len(f.gt_ids))
        col_sum = np.bincount(o.cols, o.similarity, minlength=len(f.res_ids))
        union = row_sum[o.rows] + col_sum[o.cols] - o.similarity
        shares.append(np.divide(o.similarity, union, out=np.zeros_like(union), where=union > 0))
    keys, key_index = np.unique(concat(frame_keys), return_inverse=True)
    potential = np.bincount(key_index, weights=concat(shares), minlength=len(keys))
    alignment = potential / (gt_count[keys // n_res] + res_count[keys % n_res] - potential)

    matched_keys, matched_sims = [], []
    for f, pair_keys in zip(frames, frame_keys, strict=True):
        score = alignment[np.searchsorted(keys, pair_keys)] * f.overlaps.similarity
        matched = f.overlaps.best_matching(score, len(f.gt_ids), len(f.res_ids))
        matched_keys.append(pair_keys[matched])
        matched_sims.append(f.overlaps.similarity[matched])
    all_keys, all_sims = concat(matched_keys), concat(matched_sims)

    tp = np.zeros(len(HOTA_ALPHAS))
    assa = np.zeros(len(HOTA_ALPHAS))
    for a, alpha in enumerate(HOTA_ALPHAS):
        pair, count = np.unique(all_keys[all_sims >= alpha - _EPS], return_counts=True)
        pair_assa = count / (gt_count[pair // n_res] + res_count[pair % n_res] - count)
        tp[a] = count.sum()
        assa[a] = (count * pair_assa).sum() / max(tp[a], 1)
    return HotaCounts(tp, gt_count.sum() - tp, res_count.sum() - tp, assa)


def concat(arrays: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if len(arrays) else np.zeros(0, np.int64)

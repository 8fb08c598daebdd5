"""Test-time flip averaging: the network on a frame and on its mirror image, maps merged.

Averaging two views of the same frame cancels part of the network's per-view noise: on the
three validation archives the shipped weights tracked better with it (weights/README.md,
"Flip averaging"). The mirror image's maps are mirrored back; for its boxes that also swaps
left and right sizes, and a centre at cell column c + offset becomes, counted from the other
side, column (W - 1 - c) + (1 - offset): the x offset is 1 - offset.
"""

from __future__ import annotations

import torch

MERGED = ("hm", "ltrb", "offset", "emb")
"""Head maps merged across the two views; decoding reads only these."""


def with_mirror(frames: torch.Tensor) -> torch.Tensor:
    """[B, T, 3, H, W] -> [2B, T, 3, H, W]: the frames, then each mirrored left to right."""
    return torch.cat([frames, frames.flip(-1)], dim=0)


def merge_mirrored(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Maps of `with_mirror`'s batch -> maps of the first half: heatmap probabilities, boxes,
    offsets and embeddings averaged with the mirrored-back second half. Other outputs are the
    first half's."""
    half = outputs["hm"].shape[0] // 2
    plain = {name: t[:half] for name, t in outputs.items()}
    back = {name: outputs[name][half:].flip(-1).float() for name in MERGED}
    left, top, right, bottom = back["ltrb"].unbind(1)
    back["ltrb"] = torch.stack([right, top, left, bottom], dim=1)
    back["offset"] = torch.stack([1 - back["offset"][:, 0], back["offset"][:, 1]], dim=1)
    heat = (torch.sigmoid(plain["hm"].float()) + torch.sigmoid(back["hm"])) / 2
    heat = heat.clamp(1e-6, 1 - 1e-6)
    merged = {
        "hm": torch.log(heat) - torch.log1p(-heat),  # back to logits: decoding applies sigmoid
        "ltrb": (plain["ltrb"].float() + back["ltrb"]) / 2,
        "offset": (plain["offset"].float() + back["offset"]) / 2,
        # unit vectors averaged: decoding normalises the sum, so each view weighs the same
        "emb": (
            torch.nn.functional.normalize(plain["emb"].float(), dim=1)
            + torch.nn.functional.normalize(back["emb"], dim=1)
        )
        / 2,
    }
    return plain | merged

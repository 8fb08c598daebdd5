"""The TGraM network: shared backbone over T frames, graph reasoning, decoder, heads, losses."""

from __future__ import annotations

import torch
from torch import nn

from tgram.model.adversarial import GradientDiscriminator, adversarial_loss, reversal_strength
from tgram.model.backbone import IDAUp, build_backbone
from tgram.model.config import ModelConfig
from tgram.model.flip import merge_mirrored, with_mirror
from tgram.model.graph import SpatioTemporalGraph
from tgram.model.heads import TrackingHeads
from tgram.model.losses import (
    ReIDLoss,
    UncertaintyWeighting,
    centre_giou_loss,
    focal_loss,
    gather_at,
    masked_l1,
)
from tgram.model.motion import MotionEncoder


class TGraM(nn.Module):
    """frames [B, T, 3, H, W] in [0, 1] (current first; H, W multiples of 32) -> head outputs.

    forward returns the same dict in train and eval: the head maps plus "features", the shared
    stride-4 map that the gradient adversarial loss differentiates against.

    Composed, as torchvision's detectors are: `backbone` (an nn.Module returning a list of
    feature levels at strides 4, 8, ..., 32, each 2x the last, with their widths in `.channels`), `decoder` (levels ->
    one stride-4 map of `cfg.decoder_channels`) and `heads` (that map -> "hm", "ltrb",
    "offset", "emb") may be passed in; each one left out is built from `cfg`. The graph,
    motion branch and discriminator follow `cfg` and the backbone's widths.
    """

    def __init__(
        self,
        cfg: ModelConfig,
        num_ids: int,
        *,
        backbone: nn.Module | None = None,
        decoder: nn.Module | None = None,
        heads: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_ids = num_ids
        self.backbone = build_backbone(cfg.backbone) if backbone is None else backbone
        channels = list(self.backbone.channels)
        self.graph = (
            SpatioTemporalGraph(
                channels[cfg.graph_level],
                cfg.graph_channels,
                past_frames=cfg.frames - 1,
                window=cfg.graph_window,
                ordered=cfg.graph_ordered,
            )
            if cfg.graph and cfg.frames > 1
            else None
        )
        self.motion = MotionEncoder(cfg.frames, cfg.decoder_channels) if cfg.motion else None
        self.decoder = (
            IDAUp(channels, cfg.decoder_channels, deform=cfg.deform_conv)
            if decoder is None
            else decoder
        )
        self.heads = (
            TrackingHeads(cfg.decoder_channels, cfg.head_channels, cfg.num_classes, cfg.emb_dim)
            if heads is None
            else heads
        )
        self.reid_loss = ReIDLoss(cfg.emb_dim, num_ids)
        self.weighting = UncertaintyWeighting()
        self.discriminator = (
            GradientDiscriminator(cfg.decoder_channels) if cfg.adversarial else None
        )
        mean, std = torch.tensor([0.408, 0.447, 0.470]), torch.tensor([0.289, 0.274, 0.278])
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.cfg.flip_test and not self.training:
            return merge_mirrored(self._forward(with_mirror(frames)))
        return self._forward(frames)

    def _forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        b, t = frames.shape[:2]
        if t != self.cfg.frames:
            raise ValueError(f"expected {self.cfg.frames} frames per sample, got {t}")
        x = (frames - self.mean) / self.std
        used = x if self.graph is not None else x[:, :1]  # the backbone runs on past frames
        levels = self.backbone(used.flatten(0, 1))  # only for the graph
        current = [level.unflatten(0, (b, used.shape[1]))[:, 0] for level in levels]
        if self.graph is not None:
            level = self.cfg.graph_level
            frames_at = levels[level].unflatten(0, (b, t))
            current[level] = self.graph(frames_at[:, 0], frames_at[:, 1:])
        features = self.decoder(current)
        if self.motion is not None:
            features = features + self.motion(x)
        outputs = self.heads(features)
        outputs["features"] = features
        return outputs

    def compute_losses(
        self,
        outputs: dict[str, torch.Tensor],
        targets: dict[str, torch.Tensor],
        progress: float = 0.0,
    ) -> dict[str, torch.Tensor]:
        """Loss parts and "total"; `progress` in [0, 1] ramps the gradient reversal."""
        cfg, mask, index = self.cfg, targets["mask"], targets["index"]
        hm = focal_loss(outputs["hm"], targets["hm"])
        pred_ltrb, pred_offset = (
            gather_at(outputs["ltrb"], index),
            gather_at(outputs["offset"], index),
        )
        ltrb = masked_l1(pred_ltrb, targets["ltrb"], mask)
        offset = masked_l1(pred_offset, targets["offset"], mask)
        giou = centre_giou_loss(pred_ltrb, pred_offset, targets["ltrb"], targets["offset"], mask)
        det = hm + cfg.size_weight * ltrb + cfg.offset_weight * offset + cfg.giou_weight * giou
        reid = self.reid_loss(gather_at(outputs["emb"], index), targets["ids"], mask)
        total = self.weighting(det, reid)
        losses = {"hm": hm, "ltrb": ltrb, "offset": offset, "giou": giou, "det": det, "id": reid}
        if self.discriminator is not None and self.training and torch.is_grad_enabled():
            strength = reversal_strength(progress, cfg.adversarial_max_lambda)
            both = (mask > 0) & (targets["ids"] >= 0)  # in the detection and the ReID loss
            adv = adversarial_loss(
                self.discriminator, det, reid, outputs["features"], index, both, strength
            )
            total = total + cfg.adversarial_weight * adv.loss
            losses.update(
                adv=adv.loss, adv_acc=adv.accuracy, adv_cos=adv.cosine, adv_neg=adv.negative
            )
        losses["total"] = total
        return losses

    def parameter_groups(self, lr: float) -> list[dict]:
        """The network, and the discriminator at its own learning rate."""
        disc = (
            set(map(id, self.discriminator.parameters()))
            if self.discriminator is not None
            else set()
        )
        groups = [
            {
                "params": [p for p in self.parameters() if id(p) not in disc],
                "lr": lr,
                "name": "network",
            }
        ]
        if disc:
            groups.append(
                {
                    "params": list(self.discriminator.parameters()),
                    "lr": lr * self.cfg.discriminator_lr_scale,
                    "name": "discriminator",
                }
            )
        return groups

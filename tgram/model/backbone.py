"""Backbones (MobileNetV3-small style, DLA-34) and the IDA-up decoder back to stride 4.

Each backbone returns its feature levels at strides 4, 8, 16, 32 (finest first) and exposes
their channel counts, so the decoder and the graph module work with either.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from tgram.model.deform import DeformConv2d


def conv_bn_act(
    cin: int,
    cout: int,
    k: int = 3,
    stride: int = 1,
    groups: int = 1,
    act: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        act(inplace=True),
    )


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(8, channels // reduction)
        self.fc = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Hardsigmoid(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.fc(x)


class InvertedResidual(nn.Module):
    def __init__(
        self, cin: int, k: int, exp: int, cout: int, se: bool, act: type[nn.Module], stride: int
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        if exp != cin:
            layers.append(conv_bn_act(cin, exp, 1, act=act))
        layers.append(conv_bn_act(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp))
        layers += [nn.Conv2d(exp, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


# kernel, expansion, out channels, squeeze-excite, activation, stride (MobileNetV3-small)
_MBV3_SMALL = [
    (3, 16, 16, True, nn.ReLU, 2),
    (3, 72, 24, False, nn.ReLU, 2),
    (3, 88, 24, False, nn.ReLU, 1),
    (5, 96, 40, True, nn.Hardswish, 2),
    (5, 240, 40, True, nn.Hardswish, 1),
    (5, 240, 40, True, nn.Hardswish, 1),
    (5, 120, 48, True, nn.Hardswish, 1),
    (5, 144, 48, True, nn.Hardswish, 1),
    (5, 288, 96, True, nn.Hardswish, 2),
    (5, 576, 96, True, nn.Hardswish, 1),
    (5, 576, 96, True, nn.Hardswish, 1),
]


class MobileNetV3Small(nn.Module):
    """MobileNetV3-small (Howard et al. 2019) returning levels at strides 4, 8, 16, 32."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn_act(3, 16, 3, 2, act=nn.Hardswish)
        blocks, cin, stride, self.level_ends, self.channels = [], 16, 2, [], []
        for i, (k, exp, cout, se, act, s) in enumerate(_MBV3_SMALL):
            blocks.append(InvertedResidual(cin, k, exp, cout, se, act, s))
            cin, stride = cout, stride * s
            next_stride = stride * _MBV3_SMALL[i + 1][5] if i + 1 < len(_MBV3_SMALL) else None
            if stride >= 4 and next_stride != stride:
                self.level_ends.append(i)
                self.channels.append(cout)
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        levels = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.level_ends:
                levels.append(x)
        return levels


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = conv_bn_act(cin, cout, 3, stride)
        self.conv2 = nn.Sequential(nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        residual = x if residual is None else residual
        return F.relu(self.conv2(self.conv1(x)) + residual)


class Root(nn.Module):
    """DLA's aggregation node: 1x1 conv over the concatenated children."""

    def __init__(self, cin: int, cout: int, residual: bool) -> None:
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.residual = residual

    def forward(self, *children: torch.Tensor) -> torch.Tensor:
        y = self.conv(torch.cat(children, 1))
        return F.relu(y + children[0] if self.residual else y)


class Tree(nn.Module):
    """Hierarchical deep aggregation tree (Yu et al. 2018), as in DLA-34."""

    def __init__(
        self,
        levels: int,
        cin: int,
        cout: int,
        stride: int = 1,
        level_root: bool = False,
        root_dim: int = 0,
        residual_root: bool = False,
    ) -> None:
        super().__init__()
        root_dim = root_dim or 2 * cout
        if level_root:
            root_dim += cin
        if levels == 1:
            self.tree1: nn.Module = BasicBlock(cin, cout, stride)
            self.tree2: nn.Module = BasicBlock(cout, cout, 1)
            self.root: Root | None = Root(root_dim, cout, residual_root)
        else:
            self.tree1 = Tree(
                levels - 1, cin, cout, stride, root_dim=0, residual_root=residual_root
            )
            self.tree2 = Tree(
                levels - 1, cout, cout, 1, root_dim=root_dim + cout, residual_root=residual_root
            )
            self.root = None
        self.levels, self.level_root = levels, level_root
        self.downsample = nn.MaxPool2d(stride, stride) if stride > 1 else nn.Identity()
        self.project = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
            if cin != cout
            else nn.Identity()
        )

    def forward(
        self,
        x: torch.Tensor,
        residual: torch.Tensor | None = None,
        children: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        children = [] if children is None else children
        bottom = self.downsample(x)
        residual = self.project(bottom)
        if self.level_root:
            children.append(bottom)
        x1 = self.tree1(x, residual)
        if self.levels == 1:
            x2 = self.tree2(x1)
            return self.root(x2, x1, *children)
        children.append(x1)
        return self.tree2(x1, children=children)


class DLA34(nn.Module):
    """DLA-34 returning levels at strides 4, 8, 16, 32 (channels 64, 128, 256, 512)."""

    def __init__(self) -> None:
        super().__init__()
        self.base = conv_bn_act(3, 16, 7)
        self.level0 = conv_bn_act(16, 16, 3)
        self.level1 = conv_bn_act(16, 32, 3, 2)
        self.level2 = Tree(1, 32, 64, 2, level_root=False)
        self.level3 = Tree(2, 64, 128, 2, level_root=True)
        self.level4 = Tree(2, 128, 256, 2, level_root=True)
        self.level5 = Tree(1, 256, 512, 2, level_root=True)
        self.channels = [64, 128, 256, 512]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.level1(self.level0(self.base(x)))
        l2 = self.level2(x)
        l3 = self.level3(l2)
        l4 = self.level4(l3)
        return [l2, l3, l4, self.level5(l4)]


class IDAUp(nn.Module):
    """Iterative deep aggregation back to stride 4: coarse-to-fine upsample-and-fuse."""

    def __init__(self, in_channels: list[int], out_channels: int, deform: bool = False) -> None:
        super().__init__()
        self.project = nn.ModuleList(conv_bn_act(c, out_channels, 1) for c in in_channels)
        fuse = (
            (
                lambda: nn.Sequential(
                    DeformConv2d(out_channels, out_channels),
                    nn.BatchNorm2d(out_channels),
                    nn.ReLU(inplace=True),
                )
            )
            if deform
            else (lambda: conv_bn_act(out_channels, out_channels, 3))
        )
        self.fuse = nn.ModuleList(fuse() for _ in in_channels[:-1])

    def forward(self, levels: list[torch.Tensor]) -> torch.Tensor:
        x = self.project[-1](levels[-1])
        for i in range(len(levels) - 2, -1, -1):
            skip = self.project[i](levels[i])
            # levels are exactly 2x apart (inputs are multiples of 32); a scale factor, unlike
            # size=skip.shape, survives an ONNX export at another input size
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = self.fuse[i](x + skip)
        return x


def build_backbone(name: str) -> nn.Module:
    if name == "mobilenetv3":
        return MobileNetV3Small()
    if name == "dla34":
        return DLA34()
    raise ValueError(f"unknown backbone {name!r} (expected 'mobilenetv3' or 'dla34')")

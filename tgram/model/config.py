"""Settings of the TGraM network and its losses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from tgram.classes import CLASS_NAMES

PeakRule = Literal["maxpool", "box"]
LEVEL_STRIDES = (4, 8, 16, 32)
"""Strides of the backbone's feature levels, finest first."""
Runtime = Literal["auto", "eager", "onnxruntime", "int8"]
"""What runs the network at inference (tgram.inference.Detector): eager PyTorch (CUDA with
bf16 autocast, or CPU), ONNX Runtime (CPU only, ~1.5x eager there: tgram.model.onnx), ONNX
Runtime with the decoder and heads in int8 (CPU only: tgram.model.quantize), or auto:
CPU_RUNTIME on a CPU, eager on a GPU."""
CpuRuntime = Literal["onnxruntime", "int8"]
CPU_RUNTIMES: tuple[str, ...] = get_args(CpuRuntime)
"""Runtimes that run only on the CPU (ONNX Runtime's CPU provider): never on GPU actors."""
CPU_RUNTIME: CpuRuntime = "int8"
"""What `auto` runs on a CPU: the fastest runtime whose accuracy equals eager PyTorch's
(tests/bench/bench_inference.py): int8 ran 1.9x fp32 ONNX Runtime at mAP@0.5 0.5998 against
eager's 0.6014, and tracked the validation archives as fp32 did (weights/README.md)."""
DECODE_SETTINGS = ("peaks", "peak_ratio", "flip_test")
"""ModelConfig keys that change how a network's maps are read, not the network: chosen on
validation after training and written into a weights file (`tgram weights --set`)."""


@dataclass(frozen=True)
class ModelConfig:
    backbone: Literal["mobilenetv3", "dla34"] = "mobilenetv3"
    """mobilenetv3: fast on CPU (default); dla34: the paper's stronger, ~10x slower backbone."""
    deform_conv: bool = False
    """Deformable (DCNv2) convolutions in the decoder's fusion layers."""
    frames: int = 3
    """T input frames: current, t-1, ..., t-T+1. T=1 with graph off is FairMOT."""
    graph: bool = True
    """Graph spatiotemporal reasoning between the current and the past frames."""
    motion: bool = False
    """A full-resolution encoder of frame differences whose stride-4 map is added to the
    shared features (`model/motion.py`); needs frames >= 2. Weights without it read False."""
    adversarial: bool = True
    """Multi-task gradient adversarial learning between detection and ReID."""
    classes: tuple[str, ...] = CLASS_NAMES
    emb_dim: int = 128
    decoder_channels: int = 64
    head_channels: int = 64
    graph_channels: int = 64
    """Width of the affinity embedding of graph nodes."""
    graph_window: int = 0
    """Graph edges from each current cell: 0 to every past cell (weights without it read 0);
    an odd k to the k x k past cells around it, the same neighbours at any image size
    (`model/graph.py`)."""
    graph_stride: int = 32
    """Stride of the backbone level the graph updates (4, 8, 16 or 32): 32, the coarsest
    (weights without it), keeps a 4x8 px car moving 1-2 px a frame inside one cell; with a
    window, a finer level costs little."""
    graph_ordered: bool = False
    """Past frames' messages concatenated in time order (t-1 first) instead of averaged
    (weights without it read False): only ordered, the graph can tell where motion goes."""
    max_objects: int = 256
    """Objects per training crop that get box, offset and identity targets (the largest);
    every object gets its heatmap peak (`data/targets.build_targets`)."""
    size_weight: float = 0.5
    """Weight of the ltrb L1 loss (in stride-4 cells) inside the detection loss. FairMOT's 0.1
    was set for pedestrians tens of cells tall; a 4x8 px car is 1x2 cells, where a fraction
    of a cell decides IoU 0.5."""
    offset_weight: float = 1.0
    giou_weight: float = 1.0
    """Weight of 1 - GIoU of the box decoded at each object's centre cell."""
    adversarial_weight: float = 0.05
    """Weight of the discriminator loss in the total; raising it pushes the shared features
    harder toward task gradients that cannot be told apart, at the risk of slowing detection."""
    adversarial_max_lambda: float = 1.0
    """Final strength of the gradient reversal (the DANN ramp reaches it at the end)."""
    discriminator_lr_scale: float = 10.0
    """Discriminator learning rate as a multiple of the network's. The reversal only acts
    against a discriminator that keeps up: at 2x, the probe (reversal off, 300 fine-tuning steps
    at lr 2e-4) was still at accuracy 0.85-0.87 when the reversal ramped up."""
    peaks: PeakRule = "maxpool"
    """How detections are read off this model's heatmap (validation, `Detector`), chosen on
    validation for the weights and stored with them: "maxpool" keeps 3x3 local maxima
    (CenterNet); "box" keeps every cell and suppresses by the IoU of the decoded boxes, so
    two cars in adjacent stride-4 cells both survive. Weights without it read "maxpool"."""
    peak_ratio: float = 0.0
    """With `peaks: box`, a cell is kept only if it scores at least this fraction of the best
    cell of its class in its 3x3 neighbourhood, before the box NMS: a tiny car whose centre
    lies near a cell border lights the next cell too, at a lower score, and at 2-4 px their
    boxes do not overlap enough for the NMS. Two cars in adjacent cells score alike and both
    stay. 0 keeps every cell (weights without it read 0); 1 is the "maxpool" rule."""
    flip_test: bool = False
    """Inference (eval mode) runs the network on each frame and its mirror image and merges
    the maps (`model/flip.py`): about twice the network's time. Chosen on validation for the
    weights and stored with them, like `peaks`; weights without it read False."""

    def __post_init__(self) -> None:
        if self.peaks not in ("maxpool", "box"):
            raise ValueError(f"peaks must be 'maxpool' or 'box', got {self.peaks!r}")
        if not 0.0 <= self.peak_ratio <= 1.0:
            raise ValueError(f"peak_ratio must be in [0, 1], got {self.peak_ratio}")
        if self.frames < 1:
            raise ValueError(f"frames must be >= 1, got {self.frames}")
        if self.graph_window < 0 or (self.graph_window and self.graph_window % 2 == 0):
            raise ValueError(f"graph_window must be 0 or odd, got {self.graph_window}")
        if self.graph_stride not in LEVEL_STRIDES:
            raise ValueError(
                f"graph_stride must be one of {LEVEL_STRIDES}, got {self.graph_stride}"
            )
        if self.motion and self.frames < 2:
            raise ValueError("motion needs frames >= 2 (it reads differences to past frames)")
        if not self.classes or len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be non-empty and distinct, got {list(self.classes)}")
        for name in (
            "emb_dim",
            "decoder_channels",
            "head_channels",
            "graph_channels",
            "max_objects",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def graph_level(self) -> int:
        """Index of the graph's level in the backbone's output."""
        return LEVEL_STRIDES.index(self.graph_stride)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

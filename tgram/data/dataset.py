"""Multi-frame training samples: T real consecutive frames, one shared augmentation, targets.

Sources are turned into `Sequence`s (a frame loader plus per-frame annotations with identity
ids global across the whole dataset), so a synthetic archive, an AIR-MOT tree converted by
gen-labels, or any custom dataset JSON train through the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from tgram.data.augment import AugmentConfig, jitter_hsv, random_affine, warp_boxes, warp_frames
from tgram.data.targets import build_targets
from tgram.detection_metrics import ImageGroundTruth


@dataclass(frozen=True)
class DataConfig:
    """Where training samples come from and how they are cut."""

    source: Literal["archive", "dataset_json"] = "archive"
    """`archive`: a `tgram synth` output (videos/, gt/); `dataset_json`: TGraM dataset JSON."""
    path: str = "data/synth_train"
    val_path: str | None = None
    """Held-out data of the same source kind; None splits off the last videos of `path`."""
    input_size: tuple[int, int] = (256, 256)
    """Training crop (height, width), multiples of 32. Objects keep their native pixel size:
    crops, not resizing, since 4x8 px vehicles cannot shrink further."""
    frame_stride: int = 1
    """Gap between the T input frames; 1 = consecutive, as at tracking time."""
    max_frames_per_video: int | None = None
    """Cap decoded frames per archive video (memory: frames are held decoded in RAM)."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if any(s <= 0 or s % 32 for s in self.input_size):
            raise ValueError(f"data.input_size must be positive multiples of 32, got {self.input_size}")
        if self.frame_stride < 1:
            raise ValueError(f"data.frame_stride must be >= 1, got {self.frame_stride}")


@dataclass(frozen=True)
class FrameAnnotations:
    boxes: np.ndarray
    """[n, 4] float32 xyxy pixels."""
    classes: np.ndarray
    """[n] int64, 0-based class index."""
    ids: np.ndarray
    """[n] int64, 0-based identity global across the dataset; -1 = no identity label."""

    @staticmethod
    def empty() -> FrameAnnotations:
        return FrameAnnotations(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64))


@dataclass
class Sequence:
    """One video's frames (loaded on demand) and its per-frame annotations."""

    name: str
    load_frame: Callable[[int], np.ndarray]
    annotations: list[FrameAnnotations]

    @property
    def num_frames(self) -> int:
        return len(self.annotations)


class MultiFrameDataset(Dataset):
    """Samples (current frame, t-1, ..., t-T+1) with one random crop/warp shared by all T.

    Before the first frame the first frame is repeated, exactly as the tracker does at run time.
    Randomness is a function of (seed, epoch, index), so workers and DDP ranks are reproducible;
    call `set_epoch` each epoch, as with DistributedSampler.
    """

    def __init__(
        self,
        sequences: Seq[Sequence],
        *,
        num_frames: int,
        num_classes: int,
        input_size: tuple[int, int],
        max_objects: int,
        augment: AugmentConfig | None,
        frame_stride: int = 1,
        seed: int = 0,
    ) -> None:
        self.sequences = list(sequences)
        self.num_frames = num_frames
        self.num_classes = num_classes
        self.input_size = input_size
        self.max_objects = max_objects
        self.augment = augment or AugmentConfig(
            scale=0.0, rotate_deg=0.0, translate=0.0, flip=False, hsv_gain=(0.0, 0.0, 0.0)
        )
        self.photometric = augment is not None
        self.frame_stride = frame_stride
        self.seed = seed
        self.epoch = 0
        self._index = [(s, t) for s, seq in enumerate(self.sequences) for t in range(seq.num_frames)]
        ids = [a.ids for seq in self.sequences for a in seq.annotations]
        self.num_ids = int(max((i.max() for i in ids if len(i)), default=-1)) + 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        crops, boxes, classes, ids = self._crop(index)
        targets = build_targets(
            boxes,
            classes,
            ids,
            image_hw=self.input_size,
            num_classes=self.num_classes,
            max_objects=self.max_objects,
        )
        sample = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in targets.items()}
        sample["frames"] = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255.0)
        return sample

    def ground_truth(self, index: int) -> ImageGroundTruth:
        """The boxes of sample `index` in crop coordinates (for validation scoring)."""
        _, boxes, classes, _ = self._crop(index)
        return ImageGroundTruth(boxes, classes)

    def _crop(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        seq_idx, t = self._index[index]
        seq = self.sequences[seq_idx]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        frame_ids = [max(t - k * self.frame_stride, 0) for k in range(self.num_frames)]
        frames = [seq.load_frame(i) for i in frame_ids]
        ann = seq.annotations[t]
        matrix = random_affine(rng, frames[0].shape[:2], self.input_size, ann.boxes, self.augment)
        crops = warp_frames(frames, matrix, self.input_size)
        if self.photometric:
            crops = jitter_hsv(crops, rng, self.augment.hsv_gain)
        boxes, keep = warp_boxes(ann.boxes, matrix, self.input_size)
        return crops, boxes[keep], ann.classes[keep], ann.ids[keep]

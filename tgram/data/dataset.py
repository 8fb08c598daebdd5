"""Multi-frame training samples: T real consecutive frames, one shared augmentation, targets.

Sources are turned into `Sequence`s (a frame loader plus per-frame annotations with identity
ids global across the whole dataset), so a synthetic archive, an AIR-MOT tree converted by
gen-labels, or any custom dataset JSON train through the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from tgram.classes import check_class_names
from tgram.data.augment import AugmentConfig, crop_boxes, crop_frames, draw_geometry, jitter_style
from tgram.data.contrast import box_contrast
from tgram.data.targets import build_targets
from tgram.detection_metrics import ImageGroundTruth
from tgram.geometry import box_centres


@dataclass(frozen=True)
class DataConfig:
    """Where training samples come from and how they are cut."""

    source: Literal["archive", "dataset_json"] = "archive"
    """`archive`: a `tgram synth` output (videos/, gt/); `dataset_json`: TGraM dataset JSON."""
    path: str | tuple[str, ...] = "data/synth_train"
    """One source or a list of several of this kind, trained on as one (frames drawn
    uniformly over all of them)."""
    val_path: str | tuple[str, ...] | None = None
    """Held-out data of the same source kind; None splits off the last videos of `path`."""
    input_size: tuple[int, int] = (256, 256)
    """Training crop (height, width), multiples of 32. Objects keep their native pixel size:
    crops, not resizing, since 4x8 px vehicles cannot shrink further."""
    frame_stride: int = 1
    """Gap between the T input frames; 1 = consecutive, as at tracking time."""
    max_frames_per_video: int | None = None
    """Cap decoded frames per archive video (memory: frames are held decoded in RAM)."""
    min_visibility: float = 0.3
    """Objects less visible than this (occluded in the gt, or cut by the crop) are neither
    positives nor negatives: the heatmap loss ignores their cells."""
    min_contrast: float = 0.0
    """Objects whose box differs from the 3 px around it by less than this many grey levels in
    every channel (`data.contrast.box_contrast`, on the crop before the photometric jitter) count
    as invisible: the training renderer paints some cars in the asphalt's colour, which can only
    teach parking rows, not cars. Measured with 3 (configs/train/synth_t3_vis.yaml): the false
    tracks on empty parking slots went, and imagery whose cars stand out little lost recall
    (weights/experimental/README.md, tgram_t3_vis.pt). 0: off (every shipped recipe)."""
    contrast_classes: tuple[str, ...] = ("vehicle",)
    """The classes `min_contrast` judges. A box's mean is a car's colour, but mostly ground for
    an airplane's cross: judged alike, most airplanes read as invisible."""
    reid_objects: int = 32
    """Objects per crop (drawn at random) whose identity enters the ReID loss. The identity
    classifier has one output per identity in the archive (~100k in a dense one), so its cost
    grows with objects x identities; a car park's 200 cars per crop made it most of a step."""
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        if any(s <= 0 or s % 32 for s in self.input_size):
            raise ValueError(
                f"data.input_size must be positive multiples of 32, got {self.input_size}"
            )
        if self.frame_stride < 1:
            raise ValueError(f"data.frame_stride must be >= 1, got {self.frame_stride}")
        if self.reid_objects < 1:
            raise ValueError(f"data.reid_objects must be >= 1, got {self.reid_objects}")
        if not 0 <= self.min_visibility <= 1:
            raise ValueError(f"data.min_visibility must be in [0, 1], got {self.min_visibility}")
        if self.contrast_classes:
            check_class_names(self.contrast_classes, "data.contrast_classes")
        if self.min_contrast < 0 or (self.min_contrast > 0 and self.min_visibility <= 0):
            raise ValueError(
                f"data.min_contrast must be >= 0 and, when set, needs data.min_visibility > 0 "
                f"(objects that do not show are ignored as invisible), got {self.min_contrast} "
                f"and {self.min_visibility}"
            )


@dataclass(frozen=True)
class FrameAnnotations:
    boxes: np.ndarray
    """[n, 4] float32 xyxy pixels."""
    classes: np.ndarray
    """[n] int64, 0-based class index."""
    ids: np.ndarray
    """[n] int64, 0-based identity global across the dataset; -1 = no identity label."""
    visibility: np.ndarray
    """[n] float32, visible share of each object (1 where the source does not say)."""

    @staticmethod
    def of(
        boxes: np.ndarray,
        classes: np.ndarray,
        ids: np.ndarray,
        visibility: np.ndarray | None = None,
    ) -> FrameAnnotations:
        """Annotations from arrays; no `visibility` means fully visible."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        vis = (
            np.ones(len(boxes), np.float32)
            if visibility is None
            else np.asarray(visibility, np.float32)
        )
        return FrameAnnotations(
            boxes, np.asarray(classes, np.int64), np.asarray(ids, np.int64), vis
        )

    @staticmethod
    def empty() -> FrameAnnotations:
        return FrameAnnotations.of(np.zeros((0, 4)), np.zeros(0), np.zeros(0))

    def with_ids(self, ids: np.ndarray) -> FrameAnnotations:
        return replace(self, ids=np.asarray(ids, np.int64))


@dataclass
class Sequence:
    """One video's frames (loaded on demand) and its per-frame annotations."""

    name: str
    load_frame: Callable[[int], np.ndarray]
    annotations: list[FrameAnnotations]

    @property
    def num_frames(self) -> int:
        return len(self.annotations)


MOVING_PX_PER_FRAME = 1.0
"""Image speed from which an object counts as moving: above platform jitter (~0.4 px a frame
in the synthetic archives), below a slow car at 0.5-1.5 m/px and 10 fps."""


def moving_objects(now: FrameAnnotations, before: FrameAnnotations, frames: int) -> np.ndarray:
    """[n] bool over `now`'s objects: its centre moved >= MOVING_PX_PER_FRAME a frame over the
    ground since `before`, `frames` earlier. The platform's motion is taken out as the median
    displacement of all objects seen in both (most of them are parked); objects without an
    identity, or absent then, are not moving."""
    moving = np.zeros(len(now.ids), bool)
    if frames < 1 or not len(now.ids) or not len(before.ids):
        return moving
    earlier = dict(zip(before.ids.tolist(), box_centres(before.boxes), strict=True))
    seen = np.array([i >= 0 and i in earlier for i in now.ids.tolist()])
    if not seen.any():
        return moving
    shift = box_centres(now.boxes[seen]) - np.stack([earlier[i] for i in now.ids[seen].tolist()])
    ground = np.linalg.norm(shift - np.median(shift, axis=0), axis=1)
    moving[seen] = ground >= MOVING_PX_PER_FRAME * frames
    return moving


class MultiFrameDataset(Dataset):
    """Samples (current frame, t-1, ..., t-T+1) with one random crop shared by all T.

    Before the first frame the first frame is repeated, exactly as the tracker does at run time.
    Randomness is a function of (seed, epoch, index), so workers and DDP ranks are reproducible;
    call `set_epoch` each epoch, as with DistributedSampler. `samples_per_epoch` sets the
    length of an epoch whatever the number of frames (each index cuts frame index % frames,
    with its own random crop), so that an epoch of S steps is S steps, also under DDP.
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
        min_visibility: float = 0.0,
        min_contrast: float = 0.0,
        contrast_classes: Seq[int] = (),
        reid_objects: int | None = None,
        samples_per_epoch: int | None = None,
        seed: int = 0,
    ) -> None:
        self.sequences = list(sequences)
        self.num_frames = num_frames
        self.num_classes = num_classes
        self.input_size = input_size
        self.max_objects = max_objects
        self.augment = augment or AugmentConfig.none()
        self.photometric = augment is not None
        self.frame_stride = frame_stride
        self.min_visibility = min_visibility
        self.min_contrast = min_contrast
        self.contrast_classes = np.asarray(contrast_classes, np.int64)
        self.reid_objects = reid_objects
        self.samples_per_epoch = samples_per_epoch
        self.seed = seed
        self.epoch = 0
        self._index = [
            (s, t) for s, seq in enumerate(self.sequences) for t in range(seq.num_frames)
        ]
        ids = [a.ids for seq in self.sequences for a in seq.annotations]
        self.num_ids = int(max((i.max() for i in ids if len(i)), default=-1)) + 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples_per_epoch if self.samples_per_epoch is not None else len(self._index)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        crops, boxes, classes, ids, visible = self._crop(index)
        ignore = visible < self.min_visibility
        labelled = np.flatnonzero((ids >= 0) & ~ignore)
        if self.reid_objects is not None and len(labelled) > self.reid_objects:
            rng = np.random.default_rng([self.seed, self.epoch, index, 1])
            ids = ids.copy()
            ids[rng.permutation(labelled)[self.reid_objects :]] = -1
        targets = build_targets(
            boxes,
            classes,
            ids,
            ignore=ignore,
            image_hw=self.input_size,
            num_classes=self.num_classes,
            max_objects=self.max_objects,
        )
        sample = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in targets.items()}
        sample["frames"] = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(255.0)
        return sample

    def ground_truth(self, index: int) -> ImageGroundTruth:
        """The boxes of sample `index` in crop coordinates (for validation scoring)."""
        _, boxes, classes, _, visible = self._crop(index)
        scored = visible >= self.min_visibility
        return ImageGroundTruth(boxes[scored], classes[scored])

    def _crop(
        self, index: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Crops [T, H, W, 3] and the current frame's boxes, classes, ids and visible shares."""
        seq_idx, t = self._index[index % len(self._index)]
        seq = self.sequences[seq_idx]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        frame_ids = [max(t - k * self.frame_stride, 0) for k in range(self.num_frames)]
        frames = [seq.load_frame(i) for i in frame_ids]
        ann = seq.annotations[t]
        moving = (
            moving_objects(ann, seq.annotations[frame_ids[-1]], t - frame_ids[-1])
            if self.augment.moving_centred
            else None
        )
        geometry = draw_geometry(
            rng, frames[0].shape[:2], self.input_size, ann.boxes, ann.classes, self.augment, moving
        )
        crops = crop_frames(frames, geometry)
        boxes, inside = crop_boxes(ann.boxes, geometry)
        keep = inside > 0
        boxes, classes, visible = boxes[keep], ann.classes[keep], (ann.visibility * inside)[keep]
        if self.min_contrast > 0:
            judged = np.isin(classes, self.contrast_classes)
            faint = box_contrast(crops[0], boxes) < self.min_contrast
            visible = np.where(judged & faint, 0.0, visible)
        if self.photometric:
            crops = jitter_style(crops, rng, self.augment)
        return crops, boxes, classes, ann.ids[keep], visible

"""The target classes and the one mapping between their names, 0-based indices and gt ids.

Ground-truth files carry AIR-MOT compatible 1-based class ids (1=airplane, 2=ship,
3=vehicle); model outputs and labels_with_ids use the 0-based index into CLASS_NAMES.
Keeping both conversions here means no module hard-codes an id.
"""

from __future__ import annotations

from collections.abc import Sequence

CLASS_NAMES: tuple[str, ...] = ("airplane", "ship", "vehicle")


def class_index(name: str) -> int:
    """0-based index of a class name (model outputs, labels_with_ids)."""
    try:
        return CLASS_NAMES.index(name)
    except ValueError:
        raise ValueError(
            f"unknown class {name!r} (expected one of: {', '.join(CLASS_NAMES)})"
        ) from None


def gt_class_id(name: str) -> int:
    """1-based class id as written in MOTChallenge/AIR-MOT gt files."""
    return class_index(name) + 1


def class_name_of_gt_id(gt_id: int) -> str:
    """Inverse of `gt_class_id`."""
    if not 1 <= gt_id <= len(CLASS_NAMES):
        raise ValueError(f"gt class id {gt_id} out of range (expected 1..{len(CLASS_NAMES)})")
    return CLASS_NAMES[gt_id - 1]


def check_class_names(names: Sequence[str], key: str = "classes") -> tuple[str, ...]:
    """Validate a non-empty, duplicate-free subset of CLASS_NAMES; return it as a tuple."""
    names = tuple(names)
    if not names:
        raise ValueError(f"{key} must name at least one of: {', '.join(CLASS_NAMES)}")
    unknown = [n for n in names if n not in CLASS_NAMES]
    if unknown:
        raise ValueError(
            f"{key}: unknown class {unknown[0]!r} (expected a subset of: {', '.join(CLASS_NAMES)})"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"{key}: duplicate class names in {list(names)}")
    return names

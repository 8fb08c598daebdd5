from __future__ import annotations

import numpy as np
import pytest

from tgram.synth.compositor import Compositor, Layer, Poses
from tgram.synth.sprites import Sprite
from tgram.synth.world import Scene

HEIGHT, WIDTH = 20, 30
COLOUR = (100.0, 150.0, 200.0)


def scene(occluded: tuple[slice, slice] | None = None) -> Scene:
    occluder = np.zeros((HEIGHT, WIDTH), np.uint8)
    if occluded is not None:
        occluder[occluded] = 255
    return Scene(
        np.zeros((HEIGHT, WIDTH, 3), np.uint8),
        occluder,
        np.ones((HEIGHT, WIDTH), np.float32),
        (1.0, 0.0),
        0.5,
    )


def compositor(occluded: tuple[slice, slice] | None = None) -> Compositor:
    """Two registered objects, each a solid 8 x 6 px block (no anti-aliased edge)."""
    block = np.zeros((6, 8, 4), np.float32)
    block[...] = (*COLOUR, 1.0)
    comp = Compositor(scene(occluded), blur_sigma=0.0)
    for _ in range(2):
        comp.add(Sprite(block, 8.0, 0.0))
    return comp


def draw(comp: Compositor, poses: list[tuple[int, float, float, float]]) -> tuple:
    canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    owner = np.zeros((HEIGHT, WIDTH), np.int32)
    return canvas, owner, comp.draw(canvas, owner, Poses.of(poses))


def box(layer: Layer, k: int) -> tuple[int, ...]:
    return tuple(layer.box[k].tolist())


def test_the_object_drawn_last_owns_the_overlap() -> None:
    comp = compositor()
    # centred at x 10 and 14, y 8: blocks cover x 6..13 and 10..17, rows 5..10
    canvas, owner, layer = draw(comp, [(0, 10.0, 8.0, 0.0), (1, 14.0, 8.0, 0.0)])
    assert box(layer, 0) == (6, 14, 5, 11) and box(layer, 1) == (10, 18, 5, 11)
    assert layer.area.tolist() == [48, 48]
    assert (owner[5:11, 6:10] == 1).all() and (owner[5:11, 10:18] == 2).all()
    assert owner.astype(bool).sum() == 6 * 12
    assert (canvas[5:11, 6:18] == COLOUR).all() and canvas[:5].max() == 0
    visible = comp.visible(owner, layer, (0.0, 0.0), (WIDTH, HEIGHT))
    assert visible[1:].tolist() == [24, 48]


def test_a_canopy_hides_what_is_below_it() -> None:
    comp = compositor(occluded=(slice(0, HEIGHT), slice(6, 8)))
    canvas, owner, layer = draw(comp, [(0, 10.0, 8.0, 0.0)])
    assert canvas[:, 6:8].max() == 0 and owner[:, 6:8].max() == 0
    assert comp.visible(owner, layer, (0.0, 0.0), (WIDTH, HEIGHT))[1] == 48 - 12


@pytest.mark.parametrize(("x", "drawn_columns"), [(2.0, 6), (-3.0, 1), (-6.0, 0)])
def test_objects_at_the_world_edge_keep_their_whole_box(x: float, drawn_columns: int) -> None:
    comp = compositor()
    _, owner, layer = draw(comp, [(0, x, 8.0, 0.0)])
    assert owner.astype(bool).sum() == 6 * drawn_columns
    if drawn_columns:  # amodal: the box reaches past the world edge
        assert box(layer, 0) == (int(x) - 4, int(x) + 4, 5, 11)
    else:
        assert len(layer.index) == 0


def test_looks_are_rendered_once_per_quantised_pose() -> None:
    comp = compositor()
    for x in (10.0, 11.0, 10.1, 12.0):  # phases 0, 0, 0 (10.1 rounds to 10.0) and 0 again
        draw(comp, [(0, x, 8.0, 0.0)])
    draw(comp, [(0, 10.25, 8.0, 0.0)])
    assert comp.cached(0) == 2
    comp.forget(0)
    assert comp.cached(0) == 0

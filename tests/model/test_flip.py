"""Flip averaging: the mirrored view's maps come back to the frame's geometry, and a model
with it on gives the same detections eagerly and exported."""

from __future__ import annotations

import numpy as np
import torch

from tgram.inference import Detector
from tgram.model.config import ModelConfig
from tgram.model.decode import candidates
from tgram.model.flip import merge_mirrored, with_mirror
from tgram.model.tgram import TGraM

CPU = torch.device("cpu")


def _maps(h: int, w: int, row: int, column: int, offset: tuple[float, float]) -> dict:
    """One object's maps: heatmap peak at (row, column), sizes l, t, r, b = 1, 2, 3, 4 cells."""
    hm = torch.full((1, 1, h, w), -8.0)
    hm[0, 0, row, column] = 4.0
    ltrb = torch.zeros(1, 4, h, w)
    ltrb[0, :, row, column] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    off = torch.zeros(1, 2, h, w)
    off[0, :, row, column] = torch.tensor(offset)
    emb = torch.zeros(1, 8, h, w)
    emb[0, 0] = 1.0
    return {"hm": hm, "ltrb": ltrb, "offset": off, "emb": emb}


def test_the_mirror_views_box_comes_back_to_the_frames_box() -> None:
    h, w, row, column = 6, 10, 2, 3
    frame = _maps(h, w, row, column, (0.25, 0.5))
    # what the network sees in the mirror image: the centre at 10 - 3.25 = 6.75 cells, so
    # column 6 with offset 0.75, and the left and right sizes swapped
    mirror = _maps(h, w, row, w - 1 - column, (0.75, 0.5))
    mirror["ltrb"][0, :, row, w - 1 - column] = torch.tensor([3.0, 2.0, 1.0, 4.0])
    batch = {name: torch.cat([frame[name], mirror[name]]) for name in frame}
    merged = merge_mirrored(batch)
    for name in ("ltrb", "offset"):  # at the object's cell (elsewhere nothing reads them)
        torch.testing.assert_close(merged[name][..., row, column], frame[name][..., row, column])
    torch.testing.assert_close(merged["emb"], frame["emb"])
    torch.testing.assert_close(torch.sigmoid(merged["hm"]), torch.sigmoid(frame["hm"]))
    expected = candidates(frame, score_floor=0.5)[3]
    torch.testing.assert_close(candidates(merged, score_floor=0.5)[3], expected)
    assert expected[0, 0].tolist() == [(3.25 - 1) * 4, (2.5 - 2) * 4, (3.25 + 3) * 4, (2.5 + 4) * 4]


def test_with_mirror_appends_the_mirrored_frames() -> None:
    frames = torch.arange(2 * 3 * 1 * 2 * 4, dtype=torch.float32).view(2, 3, 1, 2, 4)
    both = with_mirror(frames)
    assert both.shape == (4, 3, 1, 2, 4)
    torch.testing.assert_close(both[:2], frames)
    torch.testing.assert_close(both[2:, ..., 0], frames[..., 3])


def test_a_flip_averaging_model_detects_the_same_exported_and_eager() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(frames=1, graph=False, adversarial=False, emb_dim=16, flip_test=True)
    model = TGraM(cfg, num_ids=4).eval()
    for layer in model.heads.modules():  # scores spread over (0, 1), not all at the prior
        if isinstance(layer, torch.nn.Conv2d):
            torch.nn.init.normal_(layer.weight, std=0.3)
            torch.nn.init.zeros_(layer.bias)
    frames = list(np.random.default_rng(2).integers(0, 256, (1, 70, 133, 3), np.uint8))
    eager = Detector(model, device=CPU, runtime="eager", score_threshold=0.0)(frames)
    onnx = Detector(model, device=CPU, runtime="onnxruntime", score_threshold=0.0)
    got = onnx(frames)
    np.testing.assert_allclose(np.sort(got.scores), np.sort(eager.scores), atol=1e-4)
    # and the merged maps differ from one view's: the mirror image is really used
    plain = TGraM(ModelConfig(**{**cfg.__dict__, "flip_test": False}), num_ids=4).eval()
    plain.load_state_dict(model.state_dict())
    alone = Detector(plain, device=CPU, runtime="eager", score_threshold=0.0)(frames)
    assert np.abs(np.sort(alone.scores)[-50:] - np.sort(eager.scores)[-50:]).max() > 0.01

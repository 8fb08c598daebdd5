"""Weights files and checkpoints: a plain dict loadable with torch.load(weights_only=True).

{"arch": "tgram", "version", "config": ModelConfig as a dict, "num_ids", "state_dict",
"metrics"}; no pickled objects, so a file from storage cannot run code when loaded. A weights
file leaves out the identity classifier of the ReID loss (one row per training identity: 26 MB
for a dense archive's 100k, and useless on other videos); a training checkpoint keeps it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from tgram import __version__, storage
from tgram.config import ConfigError, from_dict, to_dict
from tgram.model.config import DECODE_SETTINGS, ModelConfig
from tgram.model.tgram import TGraM

ARCH = "tgram"
CLASSIFIER = "reid_loss."
DISCRIMINATOR = "discriminator."
TRAINING_ONLY = (CLASSIFIER, DISCRIMINATOR)
"""State-dict prefixes that only training needs: a weights file leaves them out, and a model
built from one starts them afresh."""


def checkpoint_dict(
    model: TGraM,
    cfg: ModelConfig,
    metrics: dict[str, Any],
    *,
    half: bool = False,
    inference: bool = False,
) -> dict[str, Any]:
    state = {
        k: (v.half() if half and v.is_floating_point() else v).detach().cpu()
        for k, v in model.state_dict().items()
        if not (inference and k.startswith(TRAINING_ONLY))
    }
    return {
        "arch": ARCH,
        "version": __version__,
        "config": to_dict(cfg),
        "num_ids": model.num_ids,
        "state_dict": state,
        "metrics": {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
    }


def save_weights(
    uri: str, model: TGraM, cfg: ModelConfig, metrics: dict[str, Any], *, half: bool = True
) -> None:
    buffer = io.BytesIO()
    torch.save(checkpoint_dict(model, cfg, metrics, half=half, inference=True), buffer)
    storage.write_bytes(uri, buffer.getvalue())


def read_weights_bytes(uri: str) -> bytes:
    try:
        return storage.read_bytes(uri)
    except FileNotFoundError:
        raise FileNotFoundError(f"{uri}: weights file not found") from None


def read_checkpoint(uri: str, data: bytes | None = None) -> dict[str, Any]:
    """The checkpoint dict of `uri`; `data`: its bytes, when the caller has read them already."""
    if data is None:
        data = read_weights_bytes(uri)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt or foreign file
        raise ValueError(
            f"{uri}: not a tgram weights file ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None


def model_from_checkpoint(state: dict[str, Any], *, source: str) -> TGraM:
    if not isinstance(state, dict) or state.get("arch") != ARCH:
        found = state.get("arch") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{source}: expected arch '{ARCH}', got {found!r}")
    try:
        cfg = from_dict(ModelConfig, state["config"], source=f"{source} [config]")
    except KeyError:
        raise ValueError(f"{source}: missing 'config'") from None
    tensors = {
        k: v.float() if v.is_floating_point() else v
        for k, v in state["state_dict"].items()
        if not k.startswith(DISCRIMINATOR)  # no use outside training; older files had a conv one
    }
    with_classifier = any(k.startswith(CLASSIFIER) for k in tensors)
    model = TGraM(cfg, num_ids=int(state.get("num_ids", 1)) if with_classifier else 1)
    fresh = {k: v for k, v in model.state_dict().items() if k.startswith(TRAINING_ONLY)}
    tensors.update({k: v for k, v in fresh.items() if k not in tensors})
    load_tensors(model, tensors, source=source)
    return model


def load_tensors(
    model: nn.Module, tensors: dict[str, torch.Tensor], *, source: str, strict: bool = True
) -> tuple[list[str], list[str]]:
    """`model.load_state_dict` whose shape errors name `source` in one line;
    returns (missing, unexpected) keys (empty when `strict`)."""
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=strict)
    except RuntimeError as exc:
        first = str(exc).split("\n\t")[1] if "\n\t" in str(exc) else str(exc)
        raise ValueError(f"{source}: weights do not match the config ({first.strip()})") from None
    return list(missing), list(unexpected)


def weights_config(uri: str, data: bytes | None = None) -> ModelConfig:
    """The model config of a weights file, without building the model (`data` as in
    read_checkpoint)."""
    state = read_checkpoint(uri, data)
    if not isinstance(state, dict) or "config" not in state:
        raise ValueError(f"{uri}: missing 'config'")
    try:
        return from_dict(ModelConfig, state["config"], source=f"{uri} [config]")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


def load_weights(
    uri: str, device: torch.device | str = "cpu", decode: dict[str, Any] | None = None
) -> tuple[TGraM, ModelConfig]:
    """Load a weights file (local or s3://) into an eval-mode model; `decode` overrides its
    DECODE_SETTINGS (a calibration trying other ones)."""
    state = read_checkpoint(uri)
    if decode:
        state = _with_decode(state, decode, uri)
    try:
        model = model_from_checkpoint(state, source=uri)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return model.to(device).eval(), model.cfg


def with_decode_settings(uri: str, settings: dict[str, Any], data: bytes | None = None) -> bytes:
    """The weights file `uri` with DECODE_SETTINGS changed in its config, tensors untouched."""
    buffer = io.BytesIO()
    torch.save(_with_decode(read_checkpoint(uri, data), settings, uri), buffer)
    return buffer.getvalue()


def averaged_weights(uris: Sequence[str]) -> bytes:
    """The uniform average of weights files of one network, as a weights file: a "model soup"
    (Wortsman et al., ICML 2022), which for fine-tunes of one start can keep what each learned.
    Config, decode settings and version are the first file's; integer tensors (BatchNorm's step
    counts) too; the average is taken in fp32 and stored in each tensor's own dtype."""
    if len(uris) < 2:
        raise ValueError(f"averaging needs at least two weights files, got {len(uris)}")
    states = [read_checkpoint(uri) for uri in uris]
    for uri, state in zip(uris, states, strict=True):
        if not isinstance(state, dict) or not isinstance(state.get("state_dict"), dict):
            raise ValueError(f"{uri}: missing 'state_dict'")
    first, tensors = states[0], states[0]["state_dict"]
    for uri, state in zip(uris[1:], states[1:], strict=True):
        ours, theirs = _network_config(first), _network_config(state)
        if ours != theirs:
            key = next(k for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k))
            raise ValueError(
                f"{uri}: another network than {uris[0]} (config {key}: {theirs.get(key)!r} "
                f"against {ours.get(key)!r})"
            )
        other = state["state_dict"]
        if other.keys() != tensors.keys() or any(
            other[k].shape != v.shape for k, v in tensors.items()
        ):
            raise ValueError(f"{uri}: its tensors do not match those of {uris[0]}")
    averaged = {
        k: (sum(s["state_dict"][k].float() for s in states) / len(states)).to(v.dtype)
        if v.is_floating_point()
        else v
        for k, v in tensors.items()
    }
    buffer = io.BytesIO()
    torch.save({**first, "state_dict": averaged, "metrics": {}}, buffer)
    return buffer.getvalue()


def _network_config(state: dict[str, Any]) -> dict[str, Any]:
    """The config keys that describe the tensors (all but the decode settings)."""
    return {k: v for k, v in state.get("config", {}).items() if k not in DECODE_SETTINGS}


def _with_decode(state: dict[str, Any], settings: dict[str, Any], uri: str) -> dict[str, Any]:
    """`state` with `settings` in its config. Keys outside DECODE_SETTINGS describe the tensors,
    so changing them would make a file that no longer loads or, worse, loads as another
    network: they are refused."""
    other = sorted(set(settings) - set(DECODE_SETTINGS))
    if other:
        raise ValueError(
            f"{uri}: {', '.join(other)}: not a decode setting (only {', '.join(DECODE_SETTINGS)} "
            "can change after training)"
        )
    if not isinstance(state, dict) or "config" not in state:
        raise ValueError(f"{uri}: missing 'config'")
    config = {**state["config"], **settings}
    try:
        from_dict(ModelConfig, config, source=f"{uri} [config]")
    except (ConfigError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    return {**state, "config": config}

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from tgram.config import ConfigError, from_dict, load_config, to_dict


@dataclass(frozen=True)
class Inner:
    rate: float = 0.5
    names: tuple[str, ...] = ("a",)


@dataclass(frozen=True)
class Outer:
    mode: Literal["fast", "slow"] = "fast"
    count: int = 3
    inner: Inner = field(default_factory=Inner)
    label: str | None = None

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"count must be >= 1, got {self.count}")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_and_nested_values(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "count: 5\ninner:\n  rate: 2\n  names: [x, y]\n"), Outer)
    assert cfg == Outer(count=5, inner=Inner(rate=2.0, names=("x", "y")))
    assert isinstance(cfg.inner.rate, float)
    assert to_dict(cfg) == {
        "mode": "fast",
        "count": 5,
        "inner": {"rate": 2.0, "names": ["x", "y"]},
        "label": None,
    }


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, ""), Outer) == Outer()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("count: 2\ninner:\n  ratee: 1\n", r"c.yaml:3: unknown key 'inner.ratee'"),
        ("count: two\n", r"c.yaml:1: key 'count' expected int, got str 'two'"),
        ("count: true\n", r"c.yaml:1: key 'count' expected int, got bool"),
        ("mode: medium\n", r"c.yaml:1: key 'mode' must be one of 'fast', 'slow'"),
        ("inner: 3\n", r"c.yaml:1: expected a mapping for 'inner.'"),
        ("count: 0\n", r"c.yaml: count must be >= 1, got 0"),
        ("count: [1\n", r"c.yaml:2: invalid YAML"),
        (
            "count: 2\nmode: fast\ncount: 3\n",
            r"c.yaml:3: duplicate key 'count' \(first given on line 1\)",
        ),
        ("inner:\n  rate: 1\n  rate: 2\n", r"c.yaml:3: duplicate key 'inner.rate'"),
        ("- count: 2\n", r"c.yaml:1: expected a mapping of settings for Outer, got list"),
        ("count: -3\n", r"c.yaml:1: key 'count' expected an integer >= 0, got -3"),
        ("inner:\n  rate: .nan\n", r"c.yaml:2: key 'inner.rate' expected a finite number, got nan"),
        ("inner:\n  rate: -.inf\n", r"c.yaml:2: key 'inner.rate' expected a finite number"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(write(tmp_path, text), Outer)
    assert "\n" not in str(info.value)


def test_missing_file_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml", Outer)


def test_overrides_apply_dotted_keys(tmp_path: Path) -> None:
    cfg = load_config(
        write(tmp_path, "count: 2\n"), Outer, overrides={"inner.rate": 0.25, "count": 4}
    )
    assert cfg.count == 4 and cfg.inner.rate == 0.25


def test_from_dict_reports_source() -> None:
    with pytest.raises(ConfigError, match="<cli>: unknown key 'bogus'"):
        from_dict(Outer, {"bogus": 1}, source="<cli>")

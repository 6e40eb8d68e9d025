"""A writable copy of the shipped mapping files, and helpers to break it one line at a time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"


class MappingCopy:
    """The shipped YAML files copied into a temporary directory (schemas stay bundled)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        for source in SHIPPED.glob("*.yaml"):
            shutil.copy(source, directory / source.name)

    def path(self, name: str) -> Path:
        return self.directory / name

    def text(self, name: str) -> str:
        return self.path(name).read_text(encoding="utf-8")

    def write(self, name: str, text: str) -> None:
        self.path(name).write_text(text, encoding="utf-8")

    def replace(self, name: str, old: str, new: str, count: int = 1) -> None:
        """Replace the first ``count`` occurrences of ``old``; fails loudly if it is not there."""
        text = self.text(name)
        assert old in text, f"{old!r} not in {name}"
        self.write(name, text.replace(old, new, count))

    def line(self, name: str, needle: str, nth: int = 1) -> int:
        """The 1-based line of the ``nth`` line of ``name`` that contains ``needle``."""
        seen = 0
        for number, line in enumerate(self.text(name).splitlines(), start=1):
            if needle in line:
                seen += 1
                if seen == nth:
                    return number
        raise AssertionError(f"{needle!r} (#{nth}) not in {name}")

    def at(self, name: str, needle: str, nth: int = 1) -> str:
        """The ``file:line`` a problem about that line must carry."""
        return f"{self.path(name)}:{self.line(name, needle, nth)}"


@pytest.fixture
def copy(tmp_path: Path) -> MappingCopy:
    return MappingCopy(tmp_path)


@pytest.fixture
def shipped() -> Path:
    return SHIPPED

"""Templates and static assets ship inside the package (nothing from a CDN, no build step)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from tests.conftest import PROJECT_ROOT

WEB = PROJECT_ROOT / "hub" / "web"


def test_every_template_and_static_file_matches_a_package_data_pattern():
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    shipped = [p for folder in ("templates", "static") for p in (WEB / folder).rglob("*") if p.is_file()]
    assert shipped
    missing = [str(p.relative_to(PROJECT_ROOT)) for p in shipped if not _matches(p, patterns)]
    assert missing == [], f"add their suffixes to [tool.setuptools.package-data]: {missing}"


def _matches(path: Path, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in patterns)

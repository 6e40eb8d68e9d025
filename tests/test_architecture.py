"""The layer rules of ARCHITECTURE.md, enforced."""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import adapters
import hub
import webhooks

ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_hold():
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(linter), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken" in result.stdout


def test_domain_imports_only_the_standard_library_and_itself():
    offenders = []
    for path in (ROOT / "hub" / "domain").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and not name.startswith("hub.domain"):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_the_imported_packages_are_ours_not_pypi_namesakes():
    for package in (hub, adapters, webhooks):
        assert Path(package.__file__).resolve().is_relative_to(ROOT), package.__file__
    distributions = packages_distributions()
    for name in ("hub", "adapters", "webhooks"):  # an in-tree egg-info may list cti-hub twice
        assert set(distributions.get(name) or ()) == {"cti-hub"}, (name, distributions.get(name))


def test_nothing_connects_or_reads_the_environment_at_import_time():
    code = (
        "import os, sqlalchemy\n"
        "calls = []\n"
        "sqlalchemy.create_engine = lambda *a, **k: calls.append(a)\n"
        "import hub.cli, hub.web, hub.bootstrap, hub.services.link, hub.services.worker, webhooks.generic\n"
        "import adapters.salesforce, adapters.zendesk, adapters.sandbox\n"
        "assert calls == [], calls\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env={"PATH": ""}
    )
    assert result.returncode == 0, result.stderr

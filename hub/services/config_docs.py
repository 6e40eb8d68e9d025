"""The admin document set as data: names, limits, secrets, validation, diff, files on disk.

A document set is ``{file name: YAML text}``, the same files as ``mappings/`` (the same JSON
Schemas). Validation writes the set into a directory and runs the very checks of
``ctihub mappings validate`` on it, so a version in the database and a directory of files can
never be judged differently; problems are reported as ``<file name>:<line>``.

Policy on secrets: documents hold configuration, never credentials. A document is refused when a
line sets a credential-looking key (``password``, ``api_token``, ``client_secret`` ...), or when it
contains the value of any secret the hub is configured with (webhook secret, API token, session
secret, CRM credentials) — the value itself is never echoed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from hub.domain.errors import Problem
from hub.mappings import validate_mappings

MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_DOCUMENT_ENTRIES = 10_000
DOCUMENT_NAME = re.compile(
    r"^(intents|dispositions|sla|deflection|recovery|metrics|roles|routing|fields\.[a-z0-9_-]+)\.yaml$"
)
CREDENTIAL_KEY = re.compile(
    r"^\s*(?:-\s*)?[\"']?(password|passwd|api_token|api_key|access_token|refresh_token|client_secret"
    r"|private_key|secret|webhook_secret|session_secret)[\"']?\s*:\s*[^\s#]",
    re.IGNORECASE,
)
SECRET_SETTING = re.compile(r"token|secret|password|key", re.IGNORECASE)
MIN_SECRET_LENGTH = 8


def read_directory(directory: Path) -> dict[str, str]:
    """The admin documents in a directory (``*.yaml`` whose name is a known document)."""
    directory = Path(directory)
    return {
        path.name: path.read_text(encoding="utf-8")
        for path in sorted(directory.glob("*.yaml"))
        if DOCUMENT_NAME.match(path.name)
    }


def write_directory(documents: Mapping[str, str], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in documents.items():
        (directory / name).write_text(text, encoding="utf-8")


def fingerprint(documents: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(documents), sort_keys=True).encode()).hexdigest()[:20]


def materialize(documents: Mapping[str, str], root: Path | None = None) -> Path:
    """The documents as files in a directory named by their content (written once, atomically),
    for the loaders that read a directory. Immutable per content, so every process may share it."""
    root = root or Path(tempfile.gettempdir()) / "ctihub-config"
    target = root / fingerprint(documents)
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    write_directory(documents, staging)
    try:
        os.rename(staging, target)
    except OSError:  # another process won the race: its copy is identical
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _count_entries(value: Any, budget: int) -> int:
    """Mapping keys and list items, counted until ``budget`` is exceeded (bounded work, even for
    YAML aliases that would expand enormously)."""
    count = 0
    stack = [value]
    while stack and count <= budget:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            count += len(item)
            stack.extend(item)
    return count


def secret_values(settings: Any) -> list[str]:
    """The configured secret values a document must never contain."""
    values = [settings.webhook_secret, settings.api_token, settings.session_secret]
    for crm_values in settings.crm_settings.values():
        values.extend(value for key, value in crm_values.items() if SECRET_SETTING.search(key))
    return [value for value in values if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH]


def safety_problems(documents: Mapping[str, str], secrets: Iterable[str] = ()) -> list[Problem]:
    """Names, size and entry limits, credentials: what is refused before any schema check."""
    problems: list[Problem] = []
    if not documents:
        problems.append(Problem("documents", "the version has no documents"))
    secrets = [secret for secret in secrets if secret]
    for name, text in sorted(documents.items()):
        if not isinstance(text, str):
            problems.append(Problem(name, "the document must be YAML text"))
            continue
        if not DOCUMENT_NAME.match(name):
            problems.append(
                Problem(
                    name,
                    "unknown document name; expected intents.yaml, dispositions.yaml, "
                    "fields.<crm>.yaml, sla.yaml, deflection.yaml, recovery.yaml, roles.yaml or routing.yaml",
                )
            )
            continue
        size = len(text.encode("utf-8"))
        if size > MAX_DOCUMENT_BYTES:
            problems.append(
                Problem(name, f"document is {size} bytes; the limit is {MAX_DOCUMENT_BYTES} (1 MiB)")
            )
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            match = CREDENTIAL_KEY.match(line)
            if match:
                problems.append(
                    Problem(
                        f"{name}:{number}",
                        f"{match.group(1)!r}: documents must not hold credentials; "
                        "set secrets through CTIHUB_* settings",
                    )
                )
            elif any(secret in line for secret in secrets):
                problems.append(
                    Problem(f"{name}:{number}", "contains the value of a configured secret; remove it")
                )
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            continue  # the schema check reports the syntax error with its line
        entries = _count_entries(data, MAX_DOCUMENT_ENTRIES)
        if entries > MAX_DOCUMENT_ENTRIES:
            problems.append(Problem(name, f"document has more than {MAX_DOCUMENT_ENTRIES} entries"))
    return problems


def validate_documents(documents: Mapping[str, str], secrets: Iterable[str] = ()) -> list[Problem]:
    """Every problem of the set, as ``<name>:<line>``; [] when it may be published."""
    problems = safety_problems(documents, secrets)
    if problems:
        return problems
    with tempfile.TemporaryDirectory(prefix="ctihub-validate-") as folder:
        write_directory(documents, Path(folder))
        found = validate_mappings(Path(folder))
    prefix = f"{folder}{os.sep}"
    return [
        Problem(problem.path.replace(prefix, ""), problem.message.replace(prefix, "")) for problem in found
    ]


def diff(a: Mapping[str, str], b: Mapping[str, str], a_label: str, b_label: str) -> dict[str, str]:
    """A unified diff per document that differs (added and removed documents included)."""
    result: dict[str, str] = {}
    for name in sorted(set(a) | set(b)):
        before, after = a.get(name, ""), b.get(name, "")
        if before == after:
            continue
        result[name] = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=f"{a_label}/{name}" if name in a else "/dev/null",
                tofile=f"{b_label}/{name}" if name in b else "/dev/null",
            )
        )
    return result


def change_summary(a: Mapping[str, str], b: Mapping[str, str]) -> str:
    """One line for the audit log: which documents were added, removed or changed (and by how much)."""
    parts: list[str] = []
    for name in sorted(set(a) | set(b)):
        if name not in a:
            parts.append(f"added {name}")
        elif name not in b:
            parts.append(f"removed {name}")
        elif a[name] != b[name]:
            added = removed = 0
            for line in difflib.unified_diff(a[name].splitlines(), b[name].splitlines(), lineterm=""):
                if line.startswith("+") and not line.startswith("+++"):
                    added += 1
                elif line.startswith("-") and not line.startswith("---"):
                    removed += 1
            parts.append(f"changed {name} (+{added} -{removed})")
    return "; ".join(parts) or "no changes"

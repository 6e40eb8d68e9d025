"""What the single-file area loaders (deflection.yaml, recovery.yaml) share: reading a YAML file with
line numbers, and collecting its problems as ``file:line`` in line order."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hub.domain.errors import Problem
from hub.mappings.yaml_lines import LinedDocument, YamlSyntaxError, load_with_lines


@dataclass
class FileProblems:
    display: str
    document: LinedDocument | None = None
    problems: list[tuple[int, int, Problem]] = field(default_factory=list)

    def add(self, line: int | None, message: str) -> None:
        path = self.display if line is None else f"{self.display}:{line}"
        self.problems.append((line or 0, len(self.problems), Problem(path=path, message=message)))

    def at(self, *path: str | int) -> int:
        return self.document.line_of(path) if self.document else 1

    def sorted(self) -> list[Problem]:
        return [problem for *_, problem in sorted(self.problems, key=lambda found: found[:2])]


def read_document(path: Path, found: FileProblems) -> LinedDocument | None:
    """The parsed file, or None with the reason recorded in ``found``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        found.add(None, f"cannot read the file: {exc}")
        return None
    try:
        return load_with_lines(text)
    except YamlSyntaxError as exc:
        found.add(exc.line, f"YAML syntax error at column {exc.column}: {exc.message}")
        return None

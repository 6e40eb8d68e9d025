"""What the single-file area loaders (deflection.yaml, recovery.yaml, metrics.yaml, roles.yaml) share:
reading a YAML file with line numbers, checking it against its JSON Schema, and collecting its
problems as ``file:line`` in line order."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hub.domain.errors import ConfigError, Problem
from hub.mappings import schema
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


def check_document(
    found: FileProblems, document: LinedDocument, kind: str, directory: Path, *, empty_is_valid: bool = True
) -> None:
    """Record the document's duplicate keys and its JSON Schema problems (``<kind>.schema.json``).

    With ``empty_is_valid``, a file of only comments is not checked: it means every default."""
    found.document = document
    for duplicate in document.duplicate_keys:
        where = f"{schema.dotted(duplicate.path)}: " if duplicate.path else ""
        found.add(
            duplicate.line,
            f"{where}duplicate key {duplicate.key!r} (first at line {duplicate.first_line}); "
            "YAML keeps only the last",
        )
    schema_file = schema.schema_path(kind, directory)
    if schema_file is None:
        found.add(None, f"cannot check it: {kind}.schema.json not found")
    elif document.data is not None or not empty_is_valid:
        for line, message in schema.schema_errors(schema.validator_for(schema_file), document):
            found.add(line, message)


def problems_error(path: Path, problems: list[Problem]) -> ConfigError:
    """The ConfigError a loader raises for its file: ``<path>: N problems`` carrying each one."""
    count = len(problems)
    return ConfigError(f"{path}: {count} problem{'s' if count != 1 else ''}", problems=problems)

"""Load YAML with ``yaml.safe_load`` semantics and remember the line of every node.

``load_with_lines(text)`` returns a :class:`LinedDocument`: the plain Python data (exactly what
``yaml.safe_load`` would give) plus a map from a JSON path (a tuple of keys and indexes) to the
1-based line where that node is written. For a mapping entry the line is the line of its *key*, so a
problem about ``salesforce:`` points at ``salesforce:`` even when its value starts on the next line.

A syntax error (or a tag ``safe_load`` refuses) raises :class:`YamlSyntaxError` carrying the line
and column YAML reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

# libyaml is several times faster when present; both share SafeConstructor, so the data is identical.
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

JsonPath = tuple[str | int, ...]


class YamlSyntaxError(Exception):
    """The text is not YAML that ``safe_load`` accepts. ``line``/``column`` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass(frozen=True)
class DuplicateKey:
    """A key written twice in one mapping (YAML keeps the last silently; we report it)."""

    path: JsonPath
    key: str
    line: int
    first_line: int


@dataclass
class LinedDocument:
    data: Any
    lines: dict[JsonPath, int] = field(default_factory=dict)
    duplicate_keys: list[DuplicateKey] = field(default_factory=list)

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of the deepest written node on ``path`` (1 for the document itself)."""
        parts = tuple(path)
        while parts:
            line = self.lines.get(parts)
            if line is not None:
                return line
            parts = parts[:-1]
        return self.lines.get((), 1)


def load_with_lines(text: str) -> LinedDocument:
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return LinedDocument(data=None, lines={(): 1})
            data = loader.construct_document(node)
            document = LinedDocument(data=data)
            _Walker(loader, document).walk(node, data, ())
            document.lines.setdefault((), 1)
            return document
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            problem = exc.problem or exc.context or "invalid YAML"
            if exc.context and exc.problem:
                problem = f"{exc.problem} ({exc.context})"
            raise YamlSyntaxError(problem, line, column) from exc
        except yaml.YAMLError as exc:
            raise YamlSyntaxError(str(exc), 1, 1) from exc
    finally:
        loader.dispose()


class _Walker:
    """Pairs the composed node tree with the constructed data to record each node's line."""

    def __init__(self, loader: yaml.SafeLoader, document: LinedDocument) -> None:
        self._loader = loader
        self._document = document
        self._active: set[int] = set()  # guards recursive anchors (``&a [*a]``)

    def walk(self, node: yaml.Node, data: Any, path: JsonPath) -> None:
        self._document.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self._active:
            return
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode) and isinstance(data, dict):
                self._walk_mapping(node, data, path)
            elif isinstance(node, yaml.SequenceNode) and isinstance(data, list):
                for index, (item_node, item) in enumerate(zip(node.value, data, strict=False)):
                    self.walk(item_node, item, (*path, index))
        finally:
            self._active.discard(id(node))

    def _walk_mapping(self, node: yaml.MappingNode, data: dict[Any, Any], path: JsonPath) -> None:
        # ``construct_document`` already flattened merge keys (``<<``) into ``node.value``.
        first_line: dict[Any, int] = {}
        last: dict[Any, tuple[int, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self._loader.construct_object(key_node)
            key_line = key_node.start_mark.line + 1
            if key in first_line:
                self._document.duplicate_keys.append(
                    DuplicateKey(path=path, key=str(key), line=key_line, first_line=first_line[key])
                )
            else:
                first_line[key] = key_line
            last[key] = (key_line, value_node)  # the last occurrence wins in the data, so here too
        for key, (key_line, value_node) in last.items():
            if key in data:
                child_path = (*path, key)
                self._document.lines[child_path] = key_line
                self.walk(value_node, data[key], child_path)

"""What both packages share: the hub's public URL, template access, PNG and XML checks."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib import resources
from importlib.resources.abc import Traversable
from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PackageError(Exception):
    """A package cannot be written, or what was written breaks a platform rule.

    ``problems`` lists each broken rule as ``where: what``; nothing is left on disk when raised by
    a build."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []

    def __str__(self) -> str:
        return "\n".join([self.message, *(f"  {problem}" for problem in self.problems)])


@dataclass(frozen=True)
class PublicUrl:
    """The hub's public base URL, e.g. ``https://hub.example.com`` or ``https://example.com/ctihub``."""

    base: str  # scheme://host[:port][/path], no trailing slash
    origin: str  # scheme://host[:port]

    def join(self, path: str) -> str:
        return self.base + path


def parse_public_url(value: str, option: str = "--public-url") -> PublicUrl:
    """Accept an https URL (http only for 127.0.0.1/localhost, for testing); nothing else."""
    raw = (value or "").strip()
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise PackageError(f"{option}: {raw!r} is not a URL ({exc})") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise PackageError(
            f"{option}: {raw!r} must be an absolute https:// URL, e.g. https://hub.example.com"
        )
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise PackageError(
            f"{option}: {raw!r} must use https:// (consoles frame only https pages; "
            "http:// is accepted for 127.0.0.1 and localhost, for testing)"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise PackageError(f"{option}: {raw!r} must not carry a query, fragment or credentials")
    if any(char in raw for char in "<>\"' \\"):
        raise PackageError(f"{option}: {raw!r} contains characters a URL cannot hold")
    host = parts.hostname if port is None else f"{parts.hostname}:{port}"
    origin = f"{parts.scheme}://{host}"
    return PublicUrl(base=origin + parts.path.rstrip("/"), origin=origin)


def template_root(name: str) -> Traversable:
    return resources.files("hub.panel_package").joinpath("templates", name)


def walk(root: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    """Every file under ``root`` as (relative posix path, resource), sorted."""
    found: list[tuple[str, Traversable]] = []
    for child in root.iterdir():
        relative = f"{prefix}{child.name}"
        if child.is_dir():
            found.extend(walk(child, relative + "/"))
        elif child.is_file() and child.name != "__init__.py" and not child.name.endswith(".pyc"):
            found.append((relative, child))
    return sorted(found, key=lambda item: item[0])


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the IHDR chunk; PackageError if it is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise PackageError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def parse_xml(data: bytes, where: str) -> Element:
    """Parse with defusedxml (no entities, no external references); PackageError when malformed."""
    try:
        return ElementTree.fromstring(data)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise PackageError(f"{where}: not well-formed XML ({exc})") from exc


VOID_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _TemplateChecker(HTMLParser):
    """LWC templates are HTML with unquoted ``{binding}`` attributes, so not XML: check that every
    element is closed in order, under one root ``<template>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.roots: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.stack:
            self.roots.append(tag)
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            line = self.getpos()[0]
            open_tag = f"<{self.stack[-1]}>" if self.stack else "nothing"
            self.problems.append(f"line {line}: </{tag}> closes {open_tag}")
            return
        self.stack.pop()


def check_lwc_template(source: str) -> list[str]:
    checker = _TemplateChecker()
    checker.feed(source)
    checker.close()
    problems = list(checker.problems)
    if checker.stack:
        problems.append(f"unclosed <{checker.stack[-1]}>")
    if checker.roots != ["template"]:
        problems.append(f"the root must be one <template>, found {checker.roots}")
    return problems

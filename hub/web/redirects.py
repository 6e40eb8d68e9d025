"""Where a sign-in may send the browser afterwards: paths on this hub only (no open redirects)."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this hub, else ``default`` (no open redirects)."""
    if not target or not isinstance(target, str):
        return default
    if any(ord(ch) < 32 or ch == "\\" for ch in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def is_safe_next(target: str | None) -> bool:
    return bool(target) and safe_next(target, default="") == target

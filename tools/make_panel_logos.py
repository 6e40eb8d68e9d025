"""Draw the Zendesk app logos (assets/logo.png 320x320, assets/logo-small.png 128x128).

A dev-only tool: the PNG files it writes are committed under
``hub/panel_package/templates/zendesk/assets/`` and shipped in the wheel. Pure standard library
(zlib + struct, 4x4 supersampling), so the output is byte-for-byte reproducible:

    .venv/bin/python tools/make_panel_logos.py
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "hub" / "panel_package" / "templates" / "zendesk" / "assets"
BACKGROUND = (15, 118, 110)  # teal 700
MARK = (255, 255, 255)
SAMPLES = 4


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _in_rounded_square(x: float, y: float, radius: float) -> bool:
    """Unit square [0, 1]^2 with rounded corners."""
    cx = min(max(x, radius), 1 - radius)
    cy = min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2 and 0 <= x <= 1 and 0 <= y <= 1


def _satellites() -> list[tuple[float, float]]:
    return [
        (0.5 + 0.28 * math.cos(math.radians(angle)), 0.5 + 0.28 * math.sin(math.radians(angle)))
        for angle in (-90, 30, 150)
    ]


def _in_mark(x: float, y: float) -> bool:
    """One hub joined to three channels: chat, SMS, self-service."""
    if math.hypot(x - 0.5, y - 0.5) <= 0.105:
        return True
    for sx, sy in _satellites():
        if math.hypot(x - sx, y - sy) <= 0.07:
            return True
        if _segment_distance(x, y, 0.5, 0.5, sx, sy) <= 0.022:
            return True
    return False


def render(size: int) -> bytes:
    rows = []
    for row in range(size):
        line = bytearray([0])  # filter: none
        for col in range(size):
            inside = mark = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (col + (sx + 0.5) / SAMPLES) / size
                    y = (row + (sy + 0.5) / SAMPLES) / size
                    if _in_rounded_square(x, y, 0.2):
                        inside += 1
                        mark += _in_mark(x, y)
            total = SAMPLES * SAMPLES
            alpha = round(255 * inside / total)
            share = mark / inside if inside else 0.0
            rgb = [round(b + (m - b) * share) for b, m in zip(BACKGROUND, MARK, strict=True)]
            line += bytes([*rgb, alpha])
        rows.append(bytes(line))
    return _png(size, size, b"".join(rows))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, raw: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def main() -> int:
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name, size in (("logo.png", 320), ("logo-small.png", 128)):
        (ASSETS / name).write_bytes(render(size))
        print(f"{ASSETS / name}: {size}x{size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Access to the composed Hub from a request."""

from __future__ import annotations

from flask import current_app

from hub.bootstrap import Hub


def current_hub() -> Hub:
    return current_app.extensions["ctihub"]

"""``/v1/episodes``: an episode with its links and SLA clocks."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("episodes", __name__, url_prefix="/v1")

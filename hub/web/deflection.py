"""``/v1/deflection`` and ``/v1/context``: deflection offers and context carry-over."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("deflection", __name__, url_prefix="/v1")

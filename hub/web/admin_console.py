"""``/admin``: the admin console page. Everything it shows and does goes through ``/v1/admin``."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from hub.web.session import require_role

bp = Blueprint("admin_console", __name__)


@bp.get("/admin")
@require_role("admin")
def console() -> ResponseReturnValue:
    return render_template("admin.html")

"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hub.store import migrate
from hub.web.context import current_hub

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    hub = current_hub()
    try:
        with hub.engine.connect().execution_options(readonly=True) as connection:
            connection.execute(text("SELECT 1"))
        current = migrate.is_current(hub.engine)
    except SQLAlchemyError as exc:
        return {"status": "unavailable", "database": "unreachable", "detail": type(exc).__name__}, 503
    if not current:
        return {
            "status": "unavailable",
            "database": "ok",
            "migrations": "behind; run `ctihub db upgrade`",
        }, 503
    return {"status": "ok", "database": "ok", "migrations": "current"}

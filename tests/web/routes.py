"""Routes that exist only in tests, to exercise ``require_role`` on pages and JSON endpoints."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template_string

from hub.web.session import current_principal, require_role

bp = Blueprint("test_routes", __name__)


@bp.get("/v1/test/whoami")
@require_role("agent")
def whoami():
    principal = current_principal()
    return jsonify(subject=principal.subject, roles=sorted(principal.roles))


@bp.post("/v1/test/change")
@require_role("agent")
def change():
    return jsonify(changed=True)


@bp.get("/v1/test/admin-only")
@require_role("admin")
def admin_json():
    return jsonify(ok=True)


@bp.get("/test/ops-page")
@require_role("operations")
def ops_page():
    return render_template_string(
        '{% extends "layout.html" %}{% block content %}<h1>Ops page</h1>{% endblock %}'
    )


@bp.get("/panel/salesforce/test-page")
@require_role("agent")
def salesforce_page():
    return render_template_string(
        '{% set compact = true %}{% extends "layout.html" %}{% block content %}<h1>SF page</h1>{% endblock %}'
    )


@bp.post("/test/form")
@require_role("agent")
def form_post():
    return "posted"


def install(app: Flask) -> Flask:
    app.register_blueprint(bp)
    return app

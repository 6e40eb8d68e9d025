"""The sign-in page (shown with 401 to a browser without a session, outside sandbox mode)."""

from __future__ import annotations

from flask import current_app, render_template
from flask.typing import ResponseReturnValue

from hub.web.context import current_hub
from hub.web.redirects import safe_next


def render_signin(
    next_url: str | None = None, status: int = 200, error: str | None = None
) -> ResponseReturnValue:
    hub = current_hub()
    return (
        render_template(
            "signin.html",
            next_url=safe_next(next_url),
            salesforce="ctihub_salesforce_oauth" in current_app.extensions,
            zendesk_subdomain=hub.settings.crm_settings.get("zendesk", {}).get("subdomain"),
            sandbox=hub.sandbox is not None,
            error=error,
        ),
        status,
    )

"""Bearer-token protection for the read API."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from flask import request

from hub.domain.errors import AuthError
from hub.web.context import current_hub
from hub.web.errors import NotConfigured


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        expected = current_hub().settings.api_token
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if not expected:
            raise NotConfigured.missing("CTIHUB_API_TOKEN", "the API token")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), expected.encode()
        ):
            raise AuthError("missing or wrong bearer token")
        return view(*args, **kwargs)

    return wrapped

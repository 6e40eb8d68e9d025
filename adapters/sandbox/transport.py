"""A ``requests`` transport adapter that answers the sandbox hosts in-process through WSGI."""

from __future__ import annotations

import io
from datetime import timedelta
from time import perf_counter
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from werkzeug.test import EnvironBuilder, run_wsgi_app

from .core import SALESFORCE_INSTANCE_URL, ZENDESK_BASE_URL

if TYPE_CHECKING:
    from .core import Sandbox

_ROUTES = {
    urlsplit(SALESFORCE_INSTANCE_URL).hostname: ("salesforce", "/sandbox/salesforce"),
    urlsplit(ZENDESK_BASE_URL).hostname: ("zendesk", "/sandbox/zendesk"),
}


class SandboxAdapter(BaseAdapter):
    """Send ``https://sandbox.my.salesforce.com/...`` and ``https://sandbox.zendesk.com/...`` to the
    sandbox's WSGI app; refuse every other host with ``requests.ConnectionError``."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = urlsplit(request.url or "")
        route = _ROUTES.get(url.hostname or "")
        if route is None or url.scheme != "https":
            raise requests.ConnectionError(
                f"sandbox transport: no route to {url.scheme}://{url.netloc} "
                f"(only {SALESFORCE_INSTANCE_URL} and {ZENDESK_BASE_URL} are served)",
                request=request,
            )
        crm, prefix = route
        method = (request.method or "GET").upper()
        api_path = url.path or "/"
        fault = self.sandbox.faults.take(crm, method, _decoded(api_path), "before", raising=True)
        if fault is not None:
            raise _exception(fault.exception, request)
        chaos = self.sandbox.chaos
        kind = chaos.decide(crm) if chaos is not None else None
        if kind == "timeout_before":
            raise requests.ReadTimeout("sandbox chaos: timed out before the call was served", request=request)
        if chaos is not None and kind is not None and kind.isdigit():
            status, headers, content = chaos.answer(crm, kind)
            return self._response(request, status, "Chaos", headers, content, 0.0)
        body = request.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif body is not None and not isinstance(body, bytes):
            body = b"".join(chunk if isinstance(chunk, bytes) else str(chunk).encode() for chunk in body)
        builder = EnvironBuilder(
            path=prefix + api_path,
            base_url=f"https://{url.netloc}",
            query_string=url.query,
            method=method,
            headers=list(request.headers.items()),
            data=body or b"",
        )
        environ = builder.get_environ()
        started = perf_counter()
        app_iter, status, headers = run_wsgi_app(self.sandbox.wsgi_app(), environ, buffered=True)
        try:
            content = b"".join(app_iter)
        finally:
            close = getattr(app_iter, "close", None)
            if close is not None:
                close()
        fault = self.sandbox.faults.take(crm, method, _decoded(api_path), "after", raising=True)
        if fault is not None:
            raise _exception(fault.exception, request)
        if kind == "timeout_after":
            raise requests.ReadTimeout("sandbox chaos: timed out after the call was served", request=request)
        code, _, reason = status.partition(" ")
        return self._response(
            request, int(code), reason, dict(headers.items()), content, perf_counter() - started
        )

    def _response(
        self,
        request: requests.PreparedRequest,
        status: int,
        reason: str,
        headers: dict[str, str],
        content: bytes,
        elapsed: float,
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.reason = reason
        response.headers = CaseInsensitiveDict(headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response._content = content
        response._content_consumed = True
        response.raw = io.BytesIO(content)
        response.url = request.url or ""
        response.request = request
        response.connection = self
        response.elapsed = timedelta(seconds=elapsed)
        return response

    def close(self) -> None:
        pass


def _decoded(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


def _exception(exc: Any, request: requests.PreparedRequest) -> BaseException:
    if isinstance(exc, BaseException):
        return exc
    if isinstance(exc, type) and issubclass(exc, requests.RequestException):
        return exc("sandbox fault", request=request)
    if isinstance(exc, type) and issubclass(exc, BaseException):
        return exc("sandbox fault")
    return requests.ConnectionError(str(exc), request=request)

"""Admin console tests reuse the web tests' apps (a sandbox or production-like hub on SQLite)."""

from tests.web.conftest import make_app, prod_app, sandbox_app  # noqa: F401

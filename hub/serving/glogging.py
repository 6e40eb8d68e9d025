"""gunicorn's logger, made the hub's: masked, formatted like every other process, route-only access.

``gunicorn -c python:hub.serving.gunicorn_conf`` selects it (``logger_class``).
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from gunicorn import glogging

from hub.logs import protect_handler, setup_logging
from hub.serving.access import log_access
from hub.settings import Settings


class HubLogger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        settings = Settings.from_env()
        setup_logging(
            level=settings.log_level, log_format=settings.log_format, environment=settings.environment
        )
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                protect_handler(handler, settings.log_format)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: datetime.timedelta) -> None:
        """One line per request: method, route pattern, status, duration (no path, no query)."""
        if not self.access_log.handlers:  # no --access-logfile: nothing to write
            return
        status = getattr(resp, "status_code", None) or str(getattr(resp, "status", "-")).split(" ")[0]
        log_access(self.access_log, environ, status, request_time.total_seconds())


def gunicorn_loggers() -> list[logging.Logger]:
    return [logging.getLogger("gunicorn.error"), logging.getLogger("gunicorn.access")]

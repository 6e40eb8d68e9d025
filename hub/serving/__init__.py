"""Running the hub in production: gunicorn's settings and logger, the access log, the supervisor."""

"""The channel webhooks' fixtures (a hub on SQLite and PostgreSQL, its client, Twilio's poster)."""

from tests.webhooks.conftest import client, crm_name, environment, fake_crm, hub, twilio  # noqa: F401

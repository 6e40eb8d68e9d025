"""Alembic environment: the engine comes from the caller (hub.store.migrate), never from a file."""

from alembic import context

from hub.store.schema import metadata

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    context.run_migrations()

"""Every table of the hub, for migrations and tests: each area's tables module is imported here."""

from hub.store.tables import metadata

__all__ = ["metadata"]

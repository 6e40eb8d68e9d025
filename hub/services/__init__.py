"""Use cases. Each takes its dependencies (engine, CRM, clock, catalogs) as arguments."""

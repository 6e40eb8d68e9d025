"""Inbound sources: one module per platform; each verifies its signature and parses its payload."""

"""Clients for the external systems CTI Hub calls (one package per system)."""

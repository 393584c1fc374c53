"""Tenants, API keys, limits, prices and usage records in a SQL database (SQLite file by default,
PostgreSQL by URL). Synchronous repository functions; the async group-commit writer and the shared
rate limiter sit on top. ``gateway/tenancy.py`` adapts this package to the gateway's hooks."""

from computemoat.store.db import Database, default_database_url, open_database

__all__ = ["Database", "default_database_url", "open_database"]

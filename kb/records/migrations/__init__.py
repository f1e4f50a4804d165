"""Alembic migrations of the records database (a package so installs include them)."""

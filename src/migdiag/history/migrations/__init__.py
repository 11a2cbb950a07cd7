"""Alembic migrations of the case database, shipped in the package and run from code."""

"""The thin Dagster layer: assets, checks, sensor and schedule wiring the plain domain modules."""

"""Parsers: one per file format, all returning the same `Document` shape."""

"""Worldview examples: schema, validation and SFT dataset building."""

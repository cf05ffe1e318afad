"""persona_pipeline: one expert's materials to a knowledge base and adapters that think like him."""

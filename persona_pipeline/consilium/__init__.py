"""The consilium: the adapters think like the coach, the knowledge index remembers what he wrote."""

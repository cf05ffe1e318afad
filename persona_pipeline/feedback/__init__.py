"""What the coach thinks of the answers: every answer served, his ratings and corrections, and the
worldview examples his corrections become once a person accepts them."""

"""In-process models of the embedded default pool."""

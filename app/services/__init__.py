"""Use cases: load → let the domain decide → persist (flush, never commit)."""

"""Atelier's pure domain: standard library only, no web framework, no ORM."""

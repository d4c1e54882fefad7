"""Atelier: the after-sales service of a watch workshop, as a REST API."""

"""The web layer: pages, the JSON API and their security."""

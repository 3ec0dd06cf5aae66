"""The public demo: a deterministic, fictional job search and the tools to seed it."""

"""Per-user storage: the database handle, migrations and named queries."""

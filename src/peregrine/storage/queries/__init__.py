"""Named SQL functions, one module per area. Route handlers never build SQL."""

"""Job sources: one module per source, each a ``Source`` subclass (see base.py)."""

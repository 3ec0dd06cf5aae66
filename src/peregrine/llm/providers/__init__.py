"""One module per kind of model server, each with the same shape (see base.py)."""

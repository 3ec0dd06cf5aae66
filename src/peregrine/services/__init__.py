"""Business rules; no web objects here."""

"""Peregrine: a job-search assistant."""

__version__ = "0.1.0"

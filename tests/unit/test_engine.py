"""The start-up check of the bundled SQLite version."""

from __future__ import annotations

import pytest

from peregrine.storage.engine import has_wal_reset_bug, sqlite_report


@pytest.mark.parametrize(
    ("version", "affected"),
    [
        ("3.51.2", True),
        ("3.51.3", False),
        ("3.53.4", False),
        ("3.50.6", True),
        ("3.50.7", False),
        ("3.44.5", True),
        ("3.44.6", False),
        ("3.45.1", True),
        ("3.40.1", True),
        ("4.0.0", False),
    ],
)
def test_it_knows_which_releases_have_the_wal_reset_bug(version: str, affected: bool) -> None:
    assert has_wal_reset_bug(version) is affected


def test_the_bundled_library_is_reported() -> None:
    report = sqlite_report()
    assert report.version.count(".") == 2
    assert report.cipher_version
    assert report.version in report.message

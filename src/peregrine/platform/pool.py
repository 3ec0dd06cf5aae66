"""The platform database connection pool (psycopg 3 + psycopg_pool).

Created by the app's lifespan in cloud mode only and opened without waiting, so the app
starts and serves pages while PostgreSQL is down; the pool keeps reconnecting in its own
threads. Every connection has a short connect timeout and a server-side statement timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from peregrine.settings import Settings

log = logging.getLogger("peregrine.platform")


class PlatformUnavailable(Exception):
    """The platform database could not be reached or did not answer in time."""


class PlatformDB:
    """A pool of connections to the platform database; threads share the pool, never a
    connection."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 1,
        max_size: int = 5,
        connect_timeout: int = 3,
        statement_timeout_ms: int = 2000,
        acquire_timeout: float | None = None,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self._on_error = on_error
        self.acquire_timeout = (
            acquire_timeout if acquire_timeout is not None else float(connect_timeout)
        )
        self._pool = ConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            open=False,
            name="platform",
            timeout=self.acquire_timeout,
            # A connection broken by a server restart is noticed here and replaced, instead
            # of failing the caller's first statement.
            check=ConnectionPool.check_connection,
            # Keep retrying for as long as the app runs; an outage must not shrink the pool
            # for good.
            reconnect_timeout=3600.0,
            kwargs={
                "connect_timeout": connect_timeout,
                "options": f"-c statement_timeout={statement_timeout_ms}",
                "application_name": "peregrine",
                "keepalives": 1,
                "keepalives_idle": 30,
                "keepalives_interval": 10,
                "keepalives_count": 3,
            },
        )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, on_error: Callable[[], None] | None = None
    ) -> PlatformDB:
        if settings.platform_db_url is None:
            raise PlatformUnavailable("PLATFORM_DB_URL is not set")
        return cls(
            settings.platform_db_url.reveal(),
            min_size=settings.platform_pool_min_size,
            max_size=settings.platform_pool_max_size,
            connect_timeout=settings.platform_connect_timeout,
            statement_timeout_ms=settings.platform_statement_timeout_ms,
            on_error=on_error,
        )

    def start(self) -> None:
        """Open without waiting: connections are made in the background."""
        self._pool.open(wait=False)

    def stop(self) -> None:
        self._pool.close(timeout=5.0)

    @contextmanager
    def connection(self, *, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """A connection in a transaction (committed on success); raises
        ``PlatformUnavailable`` instead of driver errors, and counts them."""
        try:
            with self._pool.connection(
                timeout=self.acquire_timeout if timeout is None else timeout
            ) as conn:
                yield conn
        except psycopg.Error as exc:
            if self._on_error is not None:
                self._on_error()
            # The driver's message can hold the host name, never the password; still, keep
            # the log line to the error class and its first line.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            log.warning("platform database unavailable: %s %s", type(exc).__name__, first)
            raise PlatformUnavailable("the platform database is unavailable") from None

"""`peregrine healthcheck`: ask the running server whether it is up (for container probes)."""

from __future__ import annotations

import http.client

import click

from peregrine.cli.context import CliError, load_settings


@click.command()
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 60),
    default=3.0,
    show_default=True,
    help="Seconds to wait for the answer.",
)
def healthcheck(timeout: float) -> None:
    """Check that the running server answers /healthz (exit 0 if so, else 1).

    Asks the server on PEREGRINE_HOST:PEREGRINE_PORT under PEREGRINE_ROOT_PATH. Container
    images have no curl; this uses only the standard library and the same settings as
    `peregrine serve`, so the probe follows any port or path prefix change.
    """
    settings = load_settings()
    # A server listening on every interface is reached on loopback from inside its container.
    wildcard = {"0.0.0.0", "::", ""}  # noqa: S104 - compared against, not bound
    host = "127.0.0.1" if settings.host in wildcard else settings.host.strip("[]")
    path = f"{settings.root_path}/healthz"
    conn = http.client.HTTPConnection(host, settings.port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        status = conn.getresponse().status
    except OSError as exc:
        raise CliError(f"no answer from {host}:{settings.port}{path}: {exc}") from None
    finally:
        conn.close()
    if status != 200:
        raise CliError(f"{host}:{settings.port}{path} answered HTTP {status}")
    click.echo("ok")

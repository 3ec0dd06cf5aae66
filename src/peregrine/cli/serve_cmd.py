"""`peregrine serve`: run the web app."""

from __future__ import annotations

import click

from peregrine.cli.context import load_settings, open_local_db


@click.command()
@click.option("--host", help="Interface to listen on (default PEREGRINE_HOST or 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (default by mode: 8502/8504/8505)."
)
def serve(host: str | None, port: int | None) -> None:
    """Start the Peregrine web app."""
    import dataclasses

    import uvicorn

    from peregrine.app import create_app
    from peregrine.settings import Settings, SettingsError, _is_loopback

    settings: Settings = load_settings()
    if host:
        if settings.mode == "local" and not settings.allow_remote and not _is_loopback(host):
            raise SettingsError(
                f"--host {host} is not a loopback address; local mode has no login "
                "(set PEREGRINE_ALLOW_REMOTE=true if you put authentication in front)"
            )
        settings = dataclasses.replace(settings, host=host)
    if port:
        settings = dataclasses.replace(settings, port=port)
    if settings.demo:
        from peregrine.demo.seed import check_seeded

        # The demo never creates or migrates its seed in place; visitors get copies.
        check_seeded(settings.staging_db)
    elif not settings.cloud:
        # Open the database once before the server starts, so a bad data folder or a file
        # that is not SQLite is one clear line instead of a lifespan traceback.
        open_local_db(settings).close()
    else:
        # Same for cloud mode: a missing data root or a CF_SERVER_SECRET that does not open
        # the key-check canary is one line, before the server starts.
        from peregrine.tenancy.cloud import CloudTenancy

        probe = CloudTenancy(settings)
        probe.start()
        probe.stop()
    from peregrine.observability.logs import configure_logging

    configure_logging(level=settings.log_level, log_format=settings.log_format)
    app = create_app(settings)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    click.echo(
        f"Peregrine ({settings.mode} mode) on http://{shown}:{settings.port}{settings.root_path}/"
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # Forwarded headers are believed only from the proxy's own address; from anyone
        # else they would let a client choose the address and scheme the app sees.
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=list(settings.forwarded_allow_ips) or None,
        server_header=False,
        # Our redacting handler formats every log line; the request middleware writes
        # the access log (route template, status, duration, request id; no client data).
        log_config=None,
        access_log=False,
    )

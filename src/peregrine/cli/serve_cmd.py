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
    if not settings.cloud:
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
        proxy_headers=settings.cloud,
        forwarded_allow_ips="127.0.0.1" if settings.cloud else None,
    )

"""`kb serve`: build the index if there is none, then serve the site (werkzeug; gunicorn in production)."""

from __future__ import annotations

import dataclasses

import click

from kb.config import Settings
from kb.logs import configure_command
from kbcli.build_search import run_build
from kbcli.options import KbCommand, common_options
from search.build import current_build
from web.app import create_app
from web.settings import SETTINGS_KEY


def serve_settings(settings: Settings, host: str | None, port: int | None) -> Settings:
    """The settings with --host/--port applied (flags override KB_HOST/KB_PORT)."""
    if host is not None:
        settings = dataclasses.replace(settings, host=host)
    if port is not None:
        settings = dataclasses.replace(settings, port=port)
    return settings


def ensure_index(settings: Settings) -> int:
    """Build the index when there is no live build yet; the build's exit code (0 if one exists)."""
    if current_build(settings.index_dir) is not None:
        return 0
    click.echo(f"kb: no index in {settings.index_dir} yet; building it from {settings.articles_dir}", err=True)
    return run_build(settings)


@click.command(cls=KbCommand)
@common_options
@click.option("--host", default=None, help="Address to listen on [KB_HOST, default: 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port [KB_PORT, default: 8080].")
def serve(settings: Settings, host: str | None, port: int | None) -> int:
    """Serve the site (building the index first if there is none).

    For production run several workers under gunicorn instead (see web/README.md):

    \b
        KB_SECRET_KEY=... gunicorn -w 4 -b 0.0.0.0:8080 'web.app:create_app()'
    """

    configure_command("INFO")
    effective = serve_settings(settings, host, port)
    code = ensure_index(effective)
    if code:
        return code
    app = create_app({SETTINGS_KEY: effective})
    click.echo(f"kb: serving {effective.articles_dir} on http://{effective.host}:{effective.port}/", err=True)
    app.run(host=effective.host, port=effective.port, debug=False, use_reloader=False, threaded=True)
    return 0

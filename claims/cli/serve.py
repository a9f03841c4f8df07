"""``giamdinh serve``: the HTTP API and the web UI (``api.main``) under uvicorn.

The server is the store's one writer while it runs a job (``api.worker``): CLI
writers wait for the lock between its jobs. It reads its settings from the
environment, which the options below set (``GIAMDINH_DATA_DIR``,
``GIAMDINH_CATALOG_DIR``); uvicorn imports the app by name, so this command does not
import the API package itself. TLS belongs to a reverse proxy in front (nginx, Caddy):
bind to 127.0.0.1 (the default) behind it.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from claims.cli.common import CatalogDir, DataDir, err, settings_for

APP = "api.main:create_app"


def serve(
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="The address to listen on: 127.0.0.1 behind a reverse proxy (which "
            "does TLS); 0.0.0.0 only on a trusted network.",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    data_dir: DataDir = None,
    catalog_dir: CatalogDir = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="uvicorn's: info, warning, error.")
    ] = "info",
    forwarded_allow_ips: Annotated[
        str,
        typer.Option(
            "--forwarded-allow-ips",
            help="The reverse proxies whose X-Forwarded-Proto/-For the server trusts "
            "(comma-separated addresses; the web UI's cookie is Secure behind HTTPS).",
        ),
    ] = "127.0.0.1",
) -> None:
    """Serve the API (clinics, assessors, finance) and the web UI over HTTP.

    Keys: `giamdinh users add --role clinic --facility MA_CSKCB`. OpenAPI at /docs.
    """
    import uvicorn

    settings = settings_for(data_dir, catalog_dir)
    os.environ["GIAMDINH_DATA_DIR"] = str(settings.data_dir)
    if settings.catalog_dir is not None:
        os.environ["GIAMDINH_CATALOG_DIR"] = str(settings.catalog_dir)
    err.print(f"giamdinh serve: http://{host}:{port}/ (store {settings.store_path})")
    uvicorn.run(
        APP,
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
    )

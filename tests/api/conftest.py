"""A real server for the API tests: uvicorn on 127.0.0.1 on a free port, over a fresh
store, with one key per role and per clinic of a small generated day."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api.main import create_app
from claims.config import Settings
from claims.pipeline.identity import add_user
from claims.store.runs import open_store

AT = "2026-11-02T08:00:00+00:00"


@dataclass
class Server:
    url: str
    settings: Settings
    files: dict[str, Path]
    """One generated XML file per facility (MA_CSKCB → file)."""
    keys: dict[str, str] = field(default_factory=dict)
    """API key per user id: ``clinic:<MA_CSKCB>``, ``assessor``, ``assessor2``,
    ``finance``, ``admin``."""

    def client(self, who: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)

    def wait_assessed(self, who: str, sub_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        with self.client(who) as http:
            while time.monotonic() < deadline:
                body = http.get(f"/submissions/{sub_id}").json()
                if body["status"] in ("assessed", "failed"):
                    return body
                time.sleep(0.2)
        msg = f"submission {sub_id} not assessed in {timeout} s"
        raise AssertionError(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_server(settings: Settings, app: FastAPI | None = None) -> Iterator[str]:
    """uvicorn serving ``app`` (default ``create_app(settings)``) in a thread; its
    base URL."""
    port = free_port()
    config = uvicorn.Config(
        app or create_app(settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            msg = "uvicorn did not start"
            raise RuntimeError(msg)
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


@pytest.fixture(scope="session")
def api_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small generated day: one XML file per facility."""
    from claims.synthetic import generate

    root = tmp_path_factory.mktemp("api-day")
    summary = generate(
        root / "inbox",
        claims=60,
        facilities=4,
        day=date(2026, 10, 15),
        seed=16,
        error_rate=0.2,
        fmt="xml",
    )
    return {sender_of(path): path for path in summary.files}


def sender_of(path: Path) -> str:
    """A generated file's MACSKCB."""
    text = path.read_text(encoding="utf-8")
    return text.split("<MACSKCB>", 1)[1].split("<", 1)[0]


def add_keys(settings: Settings, facilities: list[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    with open_store(settings.store_path) as con:
        for facility in facilities:
            _user, key = add_user(
                con, role="clinic", facility=facility, name=None, actor="test", at=AT
            )
            keys[f"clinic:{facility}"] = key
        for role, name in (
            ("assessor", "assessor"),
            ("assessor", "assessor2"),
            ("finance", "finance"),
            ("admin", "admin"),
        ):
            _user, key = add_user(
                con, role=role, facility=None, name=name, actor="test", at=AT
            )
            keys[name] = key
    return keys


@pytest.fixture
def make_server(
    tmp_path: Path, api_files: dict[str, Path]
) -> Iterator[Callable[..., Server]]:
    """Start servers over fresh stores with keys; settings overridden per call."""
    stack = ExitStack()

    def start(**overrides: object) -> Server:
        folder = tmp_path / f"data{len(stack._exit_callbacks)}"
        settings = Settings.model_validate(
            {"data_dir": folder, "lock_wait": 30, **overrides}
        )
        keys = add_keys(settings, sorted(api_files))
        url = stack.enter_context(contextmanager(run_server)(settings))
        return Server(url, settings, api_files, keys)

    with stack:
        yield start


@pytest.fixture
def server(make_server: Callable[..., Server]) -> Server:
    """A fresh store with keys, served by a real uvicorn."""
    return make_server()

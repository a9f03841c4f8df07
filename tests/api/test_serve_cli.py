"""``giamdinh serve`` as its own process: a key added by the CLI while it serves works
at once (the CLI writer waits for the server's writer lock like any writer); a file is
assessed; the server stops cleanly on SIGTERM and leaves the store to the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import free_port
from tests.factories import giamdinh


def _key(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].split()[-1]


@pytest.mark.e2e
def test_the_server_and_cli_writers_share_the_store(
    tmp_path: Path, api_files: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    facility, path = sorted(api_files.items())[0]
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-c", "from claims.cli.app import app; app()", "serve",
         "--port", str(port), "--data-dir", str(data), "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        key = _key(
            giamdinh("users", "add", "--role", "clinic", "--facility", facility,
                     "--data-dir", str(data), "--as", "ops")
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {key}"}
        sent = httpx.post(
            f"{url}/submissions",
            content=path.read_bytes(),
            headers={**headers, "Content-Type": "application/xml"},
        )
        assert sent.status_code == 202, sent.text
        other = _key(
            giamdinh("users", "add", "--role", "finance", "--name", "ketoan",
                     "--data-dir", str(data), "--as", "ops")
        )  # fmt: skip
        while True:
            got = httpx.get(f"{url}/submissions/{sent.json()['id']}", headers=headers)
            if got.json()["status"] in ("assessed", "failed"):
                break
            assert time.monotonic() < deadline + 300
            time.sleep(0.3)
        assert got.json()["status"] == "assessed"
        trail = httpx.get(
            f"{url}/events", headers={"Authorization": f"Bearer {other}"}
        ).json()["events"]
        actions = [e["action"] for e in trail]
        assert actions.count("user.created") == 2
        assert "submission.assessed" in actions
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=120)
        log.close()
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert server.returncode in (0, -signal.SIGTERM)
    listed = giamdinh("events", "--data-dir", str(data), "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert "submission.received" in listed.stdout
    assert os.path.exists(data / "processed")

"""Submissions per second and latency of ``POST /submissions`` to an assessed receipt.

Starts ``giamdinh serve`` (uvicorn, its own process) on 127.0.0.1 over a fresh store,
makes one clinic key per facility, generates a day of files, sends them all at once
(``--concurrency`` requests in flight) and polls each submission until it is assessed.
Prints and writes JSON: submissions/s and claims/s from the first request to the last
receipt, and p50/p99 of the POST's answer time (the 202) and of POST → assessed.

    python benchmarks/api_submissions.py --claims 5000 --facilities 50 --days 3 \
        --concurrency 20 --json bench-api.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]
sys.path.insert(0, str(ROOT))  # the package, not benchmarks/rules.py as `rules`

from claims.config import Settings  # noqa: E402
from claims.pipeline.identity import add_user  # noqa: E402
from claims.store.runs import open_store  # noqa: E402
from claims.synthetic import generate  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _one(
    http: httpx.AsyncClient, key: str, path: Path, gate: asyncio.Semaphore
) -> dict[str, float]:
    headers = {"Authorization": f"Bearer {key}"}
    async with gate:
        start = time.perf_counter()
        answer = await http.post(
            "/submissions",
            content=path.read_bytes(),
            headers={**headers, "Content-Type": "application/xml"},
        )
        answered = time.perf_counter()
    answer.raise_for_status()
    sub_id = answer.json()["id"]
    while True:
        got = (await http.get(f"/submissions/{sub_id}", headers=headers)).json()
        if got["status"] in ("assessed", "failed"):
            if got["status"] != "assessed":
                msg = f"submission {sub_id} failed: {got}"
                raise RuntimeError(msg)
            done = time.perf_counter()
            return {
                "start": start,
                "post": answered - start,
                "assessed": done - start,
                "done": done,
                "claims": len(got["receipt"]["claims"]),
            }
        await asyncio.sleep(0.5)  # polling harder would load the server it measures


async def _send(url: str, files: list[tuple[str, Path]], concurrency: int) -> list:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency + 10)
    async with httpx.AsyncClient(base_url=url, timeout=900, limits=limits) as http:
        return await asyncio.gather(*(_one(http, k, p, gate) for k, p in files))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--facilities", type=int, default=50)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-api-"))
    summary = generate(
        root / "inbox",
        claims=args.claims,
        facilities=args.facilities,
        day=date(2026, 10, 15),
        days=args.days,
        seed=args.seed,
        error_rate=0.02,
        fmt="xml",
    )
    settings = Settings(data_dir=root / "data")
    keys: dict[str, str] = {}
    files: list[tuple[str, Path]] = []
    with open_store(settings.store_path) as con:
        for path in sorted(summary.files):
            text = path.read_text(encoding="utf-8")
            facility = text.split("<MACSKCB>", 1)[1].split("<", 1)[0]
            if facility not in keys:
                _, keys[facility] = add_user(
                    con, role="clinic", facility=facility, name=None,
                    actor="bench", at="2026-11-02T08:00:00+00:00",
                )  # fmt: skip
            files.append((keys[facility], path))
    port = _port()
    env = {**os.environ, "GIAMDINH_DATA_DIR": str(settings.data_dir)}
    env["GIAMDINH_API_RATE_PER_MINUTE"] = "100000"
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
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
            if time.monotonic() > deadline:
                raise SystemExit("the server did not start in 120 s")
            time.sleep(0.2)
        results = asyncio.run(_send(url, files, args.concurrency))
    finally:
        server.terminate()
        server.wait(timeout=60)
    first = min(r["start"] for r in results)
    wall = max(r["done"] for r in results) - first
    claims = sum(r["claims"] for r in results)
    report = {
        "submissions": len(results),
        "claims": claims,
        "bytes": sum(p.stat().st_size for _, p in files),
        "concurrency": args.concurrency,
        "wall_seconds": round(wall, 3),
        "submissions_per_s": round(len(results) / wall, 2),
        "claims_per_s": round(claims / wall, 1),
        "post_p50_ms": round(1000 * statistics.median(r["post"] for r in results), 1),
        "post_p99_ms": round(1000 * _percentile([r["post"] for r in results], 0.99), 1),
        "assessed_p50_s": round(statistics.median(r["assessed"] for r in results), 3),
        "assessed_p99_s": round(_percentile([r["assessed"] for r in results], 0.99), 3),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

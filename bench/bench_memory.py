"""Memory of a serving process after searches (printed figures, not a timed test).

    python -m bench.bench_memory --articles DIR --index DIR [--searches 400] [--server kb|gunicorn] [--workers 2]

Starts `kb serve` (one process) or gunicorn with deploy/gunicorn.conf.py on a free loopback
port, sends `--searches` searches of the bench/bench_search.py query mix through
`GET /api/search`, then reads /proc/PID/smaps_rollup of every serving process and prints its
private memory (Private_Clean + Private_Dirty: what the process alone holds; pages shared with
other processes, such as a warmed master's copy-on-write pages, do not count), its Pss, and
its RSS. The index must already be built (`kb build --articles DIR --index DIR`).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from bench.bench_search import make_queries

REPO = Path(__file__).resolve().parent.parent
FIELDS = ("Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty")


def smaps_rollup(pid: int) -> dict[str, float]:
    """The rollup's fields in MB."""
    out: dict[str, float] = {}
    with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
        for line in rollup:
            name, _, rest = line.partition(":")
            if name in FIELDS:
                out[name] = int(rest.split()[0]) / 1024
    return out


def private_mb(pid: int) -> float:
    figures = smaps_rollup(pid)
    return figures["Private_Clean"] + figures["Private_Dirty"]


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as found:
            return [int(p) for p in found.read().split()]
    except OSError:
        return []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, server: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


def start(kind: str, articles: Path, index: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KB_ARTICLES_DIR": str(articles), "KB_INDEX_DIR": str(index),
           "KB_SECRET_KEY": "bench-secret-16ch", "KB_DATABASE_URL": f"sqlite:///{index}/bench-records.db"}
    bindir = Path(sys.executable).parent
    if kind == "kb":
        command = [shutil.which("kb", path=str(bindir)) or "kb", "serve", "--port", str(port)]
    else:
        env |= {"WEB_CONCURRENCY": str(workers), "KB_BIND": f"127.0.0.1:{port}"}
        command = [shutil.which("gunicorn", path=str(bindir)) or "gunicorn", "-c", "deploy/gunicorn.conf.py",
                   "--log-level", "warning", "--access-logfile", "/dev/null", "web.app:create_app()"]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL)


def search(port: int, paths: list[str], timeout: float = 60) -> tuple[int, float]:
    """Send every path over one keep-alive connection; (errors, slowest ms)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    errors, slowest = 0, 0.0
    for path in paths:
        started = time.perf_counter()
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        slowest = max(slowest, (time.perf_counter() - started) * 1000)
        errors += response.status != 200
    conn.close()
    return errors, slowest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=Path, required=True)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--server", choices=("kb", "gunicorn"), default="kb")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    args = parser.parse_args(argv)
    queries = make_queries(args.articles, lenient=False, count=args.searches)
    paths = ["/api/search?" + urllib.parse.urlencode([("q", q.text), *((k, v) for k, vs in q.filters.items()
                                                                       for v in vs)]) for q in queries]
    port = free_port()
    server = start(args.server, args.articles, args.index, port, args.workers)
    try:
        wait_listening(port, server, 600)
        started = time.perf_counter()
        search(port, ["/api/search?q=warm"], timeout=900)  # answered once ready (gunicorn: warmed and forked)
        print(f"first answer {time.perf_counter() - started:.1f}s after the port opened")
        while args.server == "gunicorn" and len(children(server.pid)) < args.workers:
            time.sleep(0.2)
        serving = [server.pid] if args.server == "kb" else children(server.pid)
        before = {pid: private_mb(pid) for pid in serving}
        errors, slowest = search(port, paths)
        time.sleep(1)
        print(f"{args.server}: {len(paths)} searches through /api/search, {errors} errors, slowest {slowest:.0f} ms")
        print(f"{'process':>13} {'private MB before':>17} {'private MB after':>16} {'Pss MB':>7} {'RSS MB':>7}")
        for pid in [server.pid, *children(server.pid)] if args.server == "gunicorn" else serving:
            figures = smaps_rollup(pid)
            role = "master" if args.server == "gunicorn" and pid == server.pid else "serving"
            start_mb = f"{before[pid]:.0f}" if pid in before else "-"
            print(f"{role:>7} {pid:>5} {start_mb:>17} {private_mb(pid):>16.0f} {figures['Pss']:>7.0f} "
                  f"{figures['Rss']:>7.0f}")
        return 1 if errors else 0
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())

"""Faults under load: builds killed with kill -9 while gunicorn serves searches, and gunicorn itself
killed with kill -9 while ticket systems post resolutions. Nothing may be lost.

    python -m bench.bench_faults builds [--kills 20] [--clients 4] [--articles DIR]
    python -m bench.bench_faults posts  [--kills 5] [--clients 4] [--posts 400] [--database-url URL]

builds: indexes the articles, serves them with gunicorn, and runs search clients throughout.
Phase 1 (the baseline, same run): searches only. Phase 2: `kb build --full` started and killed
with SIGKILL at a random moment, `--kills` times, then one unchanged `kb build`. Prints the
searches, the failed ones (anything but 200), the latency of both phases, the partial build
folders left before and after the final build, and the index folder's size against one clean build.

posts: clients post distinct resolutions through gunicorn (4 workers); every few seconds the
whole server (master and workers) gets SIGKILL and is started again. A post that got no answer
is sent again, as a ticket system retries. Afterwards every acknowledged (2xx) post must be in
the database exactly once. The baseline is the same posting with no kills, in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from sqlalchemy import func, select

from bench.load_resolutions import TOKEN, articles_with_categories, free_port
from kb.config import Settings, load_settings
from kb.records.db import Database
from kb.records.models import Resolution
from search.build import BUILDS, MANIFEST, build_index

REPO = Path(__file__).resolve().parent.parent
QUERIES = ("vpn", "outlook password", "打印机", "error 809", "printer", "mail", "network", "0x80070005")


class Server:
    """gunicorn in its own process group, so kill -9 takes the master and every worker at once."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings, self.workers, self.port = settings, workers, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
        env = {**os.environ, "KB_ARTICLES_DIR": str(self.settings.articles_dir),
               "KB_INDEX_DIR": str(self.settings.index_dir), "KB_DATABASE_URL": self.settings.database_url,
               "KB_API_TOKEN_HASH": self.settings.api_token_hash, "KB_SECRET_KEY": "bench-faults-secret-0123"}
        self.proc = subprocess.Popen([exe, "--workers", str(self.workers), "--threads", "2", "--bind",
                                      f"127.0.0.1:{self.port}", "--chdir", str(REPO), "--log-level", "error",
                                      "web.app:create_app()"], env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if request(self.port, "GET", "/livez")[0] == 200:
                return
            time.sleep(0.1)
        raise SystemExit("gunicorn did not start")

    def kill(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


def request(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """(status, body); status 0 when the server did not answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return 0, b""
    finally:
        conn.close()


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100)
    return f"p50 {cuts[49]:.1f} ms, p95 {cuts[94]:.1f} ms, max {max(values):.1f} ms"


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


# -- builds killed while serving ---------------------------------------------------------------------
def bench_builds(settings: Settings, kills: int, clients: int, seconds: float) -> int:
    build_index(settings, full=True)
    clean_mb = folder_mb(settings.index_dir)
    server = Server(settings, workers=2)
    server.start()
    phase = {"name": "baseline"}
    stop = threading.Event()
    latencies: dict[str, list[float]] = {"baseline": [], "kills": []}
    failures: list[str] = []

    def search() -> None:
        rng = random.Random()
        while not stop.is_set():
            q = rng.choice(QUERIES)
            started = time.perf_counter()
            status, _ = request(server.port, "GET", "/api/search?q=" + urllib.parse.quote(q))
            latencies[phase["name"]].append((time.perf_counter() - started) * 1000)
            if status != 200:
                failures.append(f"{phase['name']}: {q!r} -> {status}")

    threads = [threading.Thread(target=search, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    phase["name"] = "kills"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kbcli.main", "build", "--full", "--articles", str(settings.articles_dir),
                    "--index", str(settings.index_dir)], cwd=REPO, check=True, capture_output=True)
    full_seconds = time.perf_counter() - started
    rng = random.Random(12)
    builds = settings.index_dir / BUILDS
    left_by_kills = 0  # kills that hit the index-writing stage and left a partial folder behind
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, "-m", "kbcli.main", "build", "--full", "--articles",
                                 str(settings.articles_dir), "--index", str(settings.index_dir)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, max(0.3, full_seconds * 0.98)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        left_by_kills += sum(1 for d in builds.iterdir() if not (d / MANIFEST).is_file())
    partial_before = sum(1 for d in builds.iterdir() if not (d / MANIFEST).is_file())
    size_before = folder_mb(settings.index_dir)
    subprocess.run([sys.executable, "-m", "kbcli.main", "build", "--articles", str(settings.articles_dir),
                    "--index", str(settings.index_dir)], cwd=REPO, check=True, capture_output=True)
    partial_after = sum(1 for d in builds.iterdir() if not (d / MANIFEST).is_file())
    stop.set()
    for thread in threads:
        thread.join()
    server.stop()
    total = sum(len(v) for v in latencies.values())
    print(f"builds killed with SIGKILL while serving: {kills} (a full build takes {full_seconds:.1f} s); "
          f"{clients} search clients, machine shared")
    print(f"  searches: {total:,}, failed (not 200): {len(failures)}")
    print(f"  latency, searches only (baseline): {percentiles(latencies['baseline'])}")
    print(f"  latency, while builds ran and were killed: {percentiles(latencies['kills'])}")
    print(f"  partial build folders: {left_by_kills} left by the kills (each removed when the next build "
          f"started), {partial_before} after the last kill, {partial_after} after one unchanged `kb build`")
    print(f"  index folder: {size_before:.1f} MB after the kills, {folder_mb(settings.index_dir):.1f} MB after "
          f"the unchanged build; one clean build {clean_mb:.1f} MB")
    for line in failures[:10]:
        print("   ", line)
    return 0 if not failures and partial_after == 0 else 1


# -- the server killed while posting -----------------------------------------------------------------
def post_all(server: Server, keys: list[str], articles: list[tuple[str, str]], clients: int,
             kills: int, every: float) -> tuple[set[str], int, int, float]:
    """Post every key (retrying unanswered ones); returns (acknowledged keys, 2xx answers, retries, seconds)."""
    acknowledged: set[str] = set()
    lock = threading.Lock()
    counts = {"ok": 0, "retries": 0}
    queue = list(reversed(keys))
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                key = queue.pop()
            article, category = articles[hash(key) % len(articles)]
            body = json.dumps({"article": article, "ticket_id": key, "category": category}).encode()
            while True:
                status, _ = request(server.port, "POST", "/api/resolutions", body, auth)
                if status in (200, 201):
                    with lock:
                        acknowledged.add(key)
                        counts["ok"] += 1
                    break
                if status not in (0, 502, 503):
                    raise SystemExit(f"unexpected {status} for {key}")
                with lock:
                    counts["retries"] += 1
                time.sleep(0.2)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for _ in range(kills):
        time.sleep(every)
        if not any(t.is_alive() for t in threads):
            break
        server.kill()
        server.start()
    for thread in threads:
        thread.join()
    return acknowledged, counts["ok"], counts["retries"], time.perf_counter() - started


def bench_posts(settings: Settings, kills: int, clients: int, posts: int) -> int:
    settings = replace(settings, api_token_hash=hashlib.sha256(TOKEN.encode()).hexdigest())
    build_index(settings)
    articles = articles_with_categories(settings)
    db = Database(settings.database_url)
    db.upgrade()
    server = Server(settings, workers=4)
    server.start()
    baseline = post_all(server, [f"BASE-{n}" for n in range(posts)], articles, clients, 0, 0)
    acked, answers, retries, seconds = post_all(server, [f"KILL-{n}" for n in range(posts)], articles, clients,
                                                kills, every=max(0.5, baseline[3] / (kills + 1)))
    server.stop()
    with db.session() as session:
        stored = [row[0] for row in session.execute(select(Resolution.ticket_id)
                                                    .where(Resolution.ticket_id.like("KILL-%")))]
        base_stored = session.execute(select(func.count()).select_from(Resolution)
                                      .where(Resolution.ticket_id.like("BASE-%"))).scalar_one()
    db.dispose()
    lost = sorted(acked - set(stored))
    doubled = len(stored) - len(set(stored))
    print(f"server killed with SIGKILL while posting: {kills} times; {clients} clients, "
          f"{settings.database_url.split(':')[0]}, machine shared")
    print(f"  baseline (no kills): {posts} posts in {baseline[3]:.1f} s ({posts / baseline[3]:.0f}/s), "
          f"{base_stored} stored")
    print(f"  with kills: {posts} posts in {seconds:.1f} s, {answers} acknowledged, {retries} retried after no "
          f"answer; stored {len(stored)}; acknowledged but lost: {len(lost)}; stored twice: {doubled}")
    return 0 if not lost and not doubled and len(acked) == posts == base_stored else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=("builds", "posts"))
    parser.add_argument("--kills", type=int, default=0, help="default: 20 builds, 5 server kills")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--posts", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=10.0, help="baseline phase of `builds`")
    parser.add_argument("--articles", type=Path, default=REPO / "articles")
    parser.add_argument("--database-url", default="", help="an EMPTY database (default: a new SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(environ={}, articles_dir=args.articles, index_dir=Path(tmp) / "index",
                                 database_url=args.database_url or f"sqlite:///{tmp}/records.db")
        if args.scenario == "builds":
            return bench_builds(settings, args.kills or 20, args.clients, args.seconds)
        return bench_posts(settings, args.kills or 5, args.clients, args.posts)


if __name__ == "__main__":
    sys.exit(main())

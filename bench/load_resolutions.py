"""Load test of recording: N processes post resolutions, with deliberate duplicates, through gunicorn.

    python -m bench.load_resolutions [--processes 8] [--posts 200] [--workers 4]
                                     [--database-url URL] [--articles articles]

Builds the index of the articles folder in a temporary folder, starts gunicorn with
several workers on a free loopback port, and has every process post its share over
keep-alive connections. Each process posts keys from a window that overlaps the next
process's, and every 10th post repeats an earlier key of the same process, so the same
record arrives concurrently from several workers. Afterwards it checks, in the database:
exactly the distinct keys were stored, every 2xx answer is there, each key got exactly
one 201, and nothing failed. Prints throughput and latency percentiles.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import select

from kb.config import Settings, load_settings
from kb.loader import LoadOptions, load_knowledge_base
from kb.records.db import Database
from kb.records.models import Resolution

REPO = Path(__file__).resolve().parent.parent
TOKEN = "load-test-token"
Key = tuple[str, str, str, str]  # ticket_system, ticket_id, article_id, relation


@dataclass(frozen=True)
class Post:
    ticket_id: str
    article: str
    category: str

    @property
    def key(self) -> Key:
        return ("default", self.ticket_id, self.article, "resolved")

    def body(self) -> bytes:
        return json.dumps({"article": self.article, "ticket_id": self.ticket_id, "category": self.category,
                           "user": "load"}).encode()


@dataclass
class LoadResult:
    """What the posts got back and what the database holds afterwards."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    posted: int = 0
    distinct_posted: int = 0
    stored: int = 0
    created_answers: int = 0
    missing_2xx: list[Key] = field(default_factory=list)
    unexpected: list[Key] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Exactly the distinct records stored, every 2xx in the database, one 201 per record, no failures."""
        return (not self.errors and not self.missing_2xx and not self.unexpected
                and set(self.statuses) <= {200, 201} and self.stored == self.distinct_posted
                and self.created_answers == self.distinct_posted)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0

    def summary(self) -> str:
        rate = self.posted / self.seconds if self.seconds else 0.0
        return (f"{self.posted} posts ({self.distinct_posted} distinct) in {self.seconds:.2f}s = {rate:.0f}/s; "
                f"p50 {self.percentile(50):.1f} ms, p95 {self.percentile(95):.1f} ms, "
                f"max {self.percentile(100):.1f} ms; "
                f"answers {dict(sorted(self.statuses.items()))}; stored {self.stored}; "
                f"201s {self.created_answers}; 2xx missing {len(self.missing_2xx)}; errors {len(self.errors)}; "
                f"{'OK' if self.ok else 'FAILED'}")


def plan(processes: int, posts: int, articles: Sequence[tuple[str, str]]) -> list[list[Post]]:
    """Each process's posts: overlapping windows of keys, every 10th post a repeat of an earlier one."""
    universe = max(1, processes * posts // 2)
    shares = []
    for p in range(processes):
        share = []
        for j in range(posts):
            n = (p * posts // 2 + j) % universe
            if j % 10 == 9:
                n = (p * posts // 2 + j // 2) % universe  # a duplicate inside this process too
            article, category = articles[n % len(articles)]
            share.append(Post(f"LOAD-{n:05d}", article, category))
        shares.append(share)
    return shares


Answers = tuple[list[tuple[Key, int, bool, float]], list[str], float]


def _post_share(args: tuple[str, int, list[Post], float]) -> Answers:
    host, port, share, start_at = args
    while time.time() < start_at:  # start together, so the same keys really race
        time.sleep(0.001)
    answers: list[tuple[Key, int, bool, float]] = []
    errors: list[str] = []
    conn = http.client.HTTPConnection(host, port, timeout=60)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    for post in share:
        started = time.perf_counter()
        try:
            conn.request("POST", "/api/resolutions", body=post.body(), headers=headers)
            response = conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            errors.append(f"{post.key}: {exc!r}")
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=60)
            continue
        elapsed = (time.perf_counter() - started) * 1000
        created = False
        if response.status in (200, 201):
            created = bool(json.loads(payload)["created"])
        else:
            errors.append(f"{post.key}: HTTP {response.status}: {payload[:200]!r}")
        answers.append((post.key, response.status, created, elapsed))
    conn.close()
    return answers, errors, time.time()


def run_load(base_host: str, port: int, shares: list[list[Post]], db: Database) -> LoadResult:
    """Post every share from its own process at once, then compare the answers with the database."""
    result = LoadResult()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(len(shares)) as pool:
        pool.map(time.sleep, [0.0] * len(shares))  # every process started and imported before the clock runs
        start_at = time.time() + 0.2
        outcomes = pool.map(_post_share, [(base_host, port, share, start_at) for share in shares])
    result.seconds = max(finished for _answers, _errors, finished in outcomes) - start_at
    ok_keys: set[Key] = set()
    creators: Counter[Key] = Counter()
    for answers, errors, _finished in outcomes:
        result.errors.extend(errors)
        for key, status, created, elapsed in answers:
            result.statuses[status] += 1
            result.latencies_ms.append(elapsed)
            if status in (200, 201):
                ok_keys.add(key)
            if created:
                creators[key] += 1
    posted = {post.key for share in shares for post in share}
    result.posted = sum(len(share) for share in shares)
    result.distinct_posted = len(posted)
    result.created_answers = sum(creators.values())
    with db.session() as session:
        rows = session.execute(select(Resolution.ticket_system, Resolution.ticket_id, Resolution.article_id,
                                      Resolution.relation)).all()
    stored = [tuple(row) for row in rows]
    result.stored = len(stored)
    stored_set = set(stored)
    result.missing_2xx = sorted(ok_keys - stored_set)
    result.unexpected = sorted(stored_set - posted) + [k for k, n in Counter(stored).items() if n > 1]
    result.errors.extend(f"{k}: answered 201 {n} times" for k, n in creators.items() if n > 1)
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(settings: Settings, workers: int) -> Iterator[int]:
    """gunicorn serving the site on a free loopback port; yields the port."""
    exe = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if exe is None:
        raise SystemExit("gunicorn is not installed")
    port = free_port()
    env = {**os.environ, "KB_ARTICLES_DIR": str(settings.articles_dir), "KB_INDEX_DIR": str(settings.index_dir),
           "KB_DATABASE_URL": settings.database_url, "KB_API_TOKEN_HASH": settings.api_token_hash,
           "KB_SECRET_KEY": "load-test-secret-0123456789"}
    proc = subprocess.Popen([exe, "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--chdir", str(REPO),
                             "--log-level", "warning", "web.app:create_app()"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {proc.stdout.read() if proc.stdout else ''}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/api/categories")
                conn.getresponse().read()
                break
            except (OSError, http.client.HTTPException):
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
            finally:
                conn.close()  # an unclosed socket would surface later as a ResourceWarning
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def articles_with_categories(settings: Settings) -> list[tuple[str, str]]:
    """(article id, its first category) for every article that has a category."""
    kb = load_knowledge_base(settings.articles_dir, LoadOptions(render=False, git_history=False,
                                                                default_lang=settings.default_lang))
    return sorted((a.id, a.categories[0]) for a in kb.articles if a.categories and a.state != "draft")


def load_test(settings: Settings, processes: int = 8, posts: int = 200, workers: int = 4,
              migrate_first: bool = True) -> LoadResult:
    """Serve `settings` (index already built, database empty) with gunicorn and run the load.

    Without `migrate_first` the workers create the schema themselves, racing on the first posts.
    """
    settings = replace(settings, api_token_hash=hashlib.sha256(TOKEN.encode()).hexdigest())
    shares = plan(processes, posts, articles_with_categories(settings))
    db = Database(settings.database_url)
    if migrate_first:
        db.upgrade()  # before the workers start, so the load measures recording, not the first migration
    try:
        with gunicorn(settings, workers) as port:
            return run_load("127.0.0.1", port, shares, db)
    finally:
        db.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--posts", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--articles", type=Path, default=REPO / "articles")
    parser.add_argument("--database-url", default="", help="an EMPTY database (default: a new SQLite file)")
    args = parser.parse_args(argv)
    from search.build import build_index

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/records.db"
        settings = load_settings(environ={}, articles_dir=args.articles, index_dir=Path(tmp) / "index",
                                 database_url=url)
        build_index(settings)
        result = load_test(settings, args.processes, args.posts, args.workers)
    print(result.summary())
    for line in result.errors[:10]:
        print("  ", line)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

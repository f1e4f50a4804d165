"""HTTP benchmark of the site under gunicorn on loopback (printed figures, not a timed test).

    python -m web.bench_http --articles 10000 [--workers 4] [--seconds 20] [--keep DIR]

Generates a synthetic knowledge base (about 600 words per article, mixed Chinese and English,
with categories, tags and error codes from the bundled vocabulary), builds its index, starts
gunicorn, and for 1, 8 and 32 concurrent clients sends an even mix of search-page and
article-page requests, reporting p50/p95/max latency and requests per second for each kind
and every error. Target: search p95 at most 3x the article page's p95, and no errors.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from kb.config import load_settings
from kb.vocabulary import load_vocabulary
from search.build import build_index

REPO = Path(__file__).resolve().parent.parent
BUNDLED_VOCABULARY = REPO / "articles" / "_kb"

EN_WORDS = (
    "vpn", "connect", "timeout", "password", "reset", "account", "locked", "outlook", "profile", "mailbox",
    "sync", "printer", "queue", "driver", "spooler", "laptop", "battery", "wifi", "adapter", "certificate",
    "proxy", "dns", "lookup", "share", "permission", "drive", "mapping", "onedrive", "teams", "camera",
    "microphone", "meeting", "update", "install", "uninstall", "registry", "policy", "login", "screen", "network",
    "cable", "switch", "firewall", "browser", "cache", "cookie", "token", "session", "expired", "server",
    "restart", "service", "error", "code", "ticket", "user", "desktop", "monitor", "keyboard", "license",
    "activation", "backup", "restore", "folder", "file",
)
ZH_WORDS = (
    "无法", "连接", "网络", "密码", "重置", "账号", "锁定", "邮件", "客户端",
    "打印机", "驱动", "队列", "笔记本", "电池", "无线", "证书", "代理", "域名",
    "解析", "共享", "权限", "映射", "同步", "会议", "摄像头", "麦克风", "更新",
    "安装", "卸载", "策略", "登录", "屏幕", "防火墙", "浏览器", "缓存", "会话",
    "过期", "服务器", "重启", "服务", "错误", "工单", "用户", "桌面", "显示器",
    "键盘", "许可证", "激活", "备份", "恢复", "文件夹", "文件",
)
ERROR_CODES = ("0x80070005", "0x8004010F", "0x800CCC0E", "0xC004F074", "ORA-12541", "Error 809", "Error 720",
               "AADSTS50126", "KB5034441", "E_ACCESSDENIED", "550 5.7.1", "HTTP 502", "0x80070643", "0x87D00324")
SEARCHES = ("vpn timeout", "outlook password", "printer driver", "0x80070005", "Error 809", "无法 连接", "打印机 驱动",
            "\"password reset\"", "certificate -proxy", "laptop battery category:devices", "restar", "oneedrive sync",
            "账号 锁定", "dns lookup", "teams camera", "spool*", "AADSTS50126", "邮件 同步", "firewall browser", "激活")


def generate(root: Path, count: int, seed: int = 7) -> Path:
    """A synthetic articles folder with the bundled vocabulary."""
    rng = random.Random(seed)
    shutil.copytree(BUNDLED_VOCABULARY, root / "_kb", dirs_exist_ok=True)
    (root / "_kb" / "onboarding.yaml").unlink(missing_ok=True)  # its steps name the bundled articles
    vocabulary, _ = load_vocabulary(root)
    categories = sorted(vocabulary.categories)
    tags = sorted(vocabulary.tags)
    for n in range(count):
        zh = n % 2 == 1
        words = ZH_WORDS if zh else EN_WORDS
        joiner = "" if zh else " "

        def sentence(length: int, words: tuple[str, ...] | list[str] = words, joiner: str = joiner) -> str:
            return joiner.join(rng.choice(words) for _ in range(length))

        code = rng.choice(ERROR_CODES)
        title = f"{sentence(5)} {code}"
        paragraphs = [sentence(rng.randint(40, 70)) + (" " + code if i == 1 else "") for i in range(8)]
        body = (f"## {'问题' if zh else 'Issue'}\n\n{paragraphs[0]}\n\n{paragraphs[1]}\n\n"
                f"## {'环境' if zh else 'Environment'}\n\n{paragraphs[2]}\n\n"
                f"## {'解决方法' if zh else 'Resolution'}\n\n1. {paragraphs[3]}\n2. {paragraphs[4]}\n\n"
                f"```\n{code}\n```\n\n## {'原因' if zh else 'Cause'}\n\n{paragraphs[5]}\n\n{paragraphs[6]}\n")
        front = "\n".join([
            "---", f"id: syn-{n:05d}", f'title: "{title}"', f'summary: "{sentence(12)}"', "type: problem",
            f"state: {rng.choice(['validated', 'unverified', 'validated'])}", f"lang: {'zh' if zh else 'en'}",
            f"categories: [{rng.choice(categories)}]", f"tags: [{', '.join(rng.sample(tags, 2))}]",
            f'errors: ["{code}"]', f"owner: team-{n % 7}", "---", ""])
        folder = root / ("zh" if zh else "en") / f"{n // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"syn-{n:05d}.md").write_text(front + body, encoding="utf-8")
    return root


@dataclass
class Samples:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_load(port: int, clients: int, seconds: float, article_ids: list[str]) -> dict[str, Samples]:
    """`clients` threads, each with a keep-alive connection, alternating search and article requests."""
    results = {"search": Samples(), "article": Samples()}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(number: int) -> None:
        rng = random.Random(number)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        kind = "search" if number % 2 else "article"
        while time.monotonic() < stop:
            if kind == "search":
                path = "/search?" + urllib.parse.urlencode({"q": rng.choice(SEARCHES)})
            else:
                path = "/articles/" + rng.choice(article_ids)
            started = time.perf_counter()
            error = None
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    error = f"{response.status} {path}"
            except (OSError, http.client.HTTPException) as exc:
                error = f"{type(exc).__name__} {path}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                (results[kind].errors.append(error) if error else results[kind].latencies.append(elapsed))
            kind = "article" if kind == "search" else "search"
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> int:
    """Generate, build, serve under gunicorn, load, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=10_000, help="synthetic articles to generate")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--seconds", type=float, default=20.0, help="load duration per concurrency level")
    parser.add_argument("--clients", default="1,8,32", help="concurrency levels")
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep the corpus and index in this folder")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="kb-bench-http-"))
    articles, index = work / "articles", work / "index"
    if not (articles / "_kb").is_dir():
        started = time.perf_counter()
        generate(articles, args.articles)
        print(f"generated {args.articles} articles in {time.perf_counter() - started:.1f}s")
    settings = load_settings(environ={}, articles_dir=articles, index_dir=index)
    started = time.perf_counter()
    report = build_index(settings)
    print(f"index: {report.mode} build of {report.articles} articles in {time.perf_counter() - started:.1f}s")
    ids = [f"syn-{n:05d}" for n in range(report.articles)]

    port = free_port()
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    env = {**os.environ, "KB_ARTICLES_DIR": str(articles), "KB_INDEX_DIR": str(index), "KB_SECRET_KEY": "bench"}
    server = subprocess.Popen([gunicorn, "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
                               "--chdir", str(REPO), "--log-level", "warning", "web.app:create_app()"], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("gunicorn did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        # Warm every worker (opening the index, reading article metadata) before measuring.
        started = time.perf_counter()
        run_load(port, args.workers * 4, 3.0, ids)
        print(f"warm-up: {time.perf_counter() - started:.1f}s; gunicorn --workers {args.workers}; "
              f"{os.cpu_count()} CPUs; load generator in this process")
        print(f"{'clients':>7} {'kind':>8} {'requests':>8} {'rps':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
              f"{'errors':>6}")
        failed = False
        for clients in (int(c) for c in args.clients.split(",")):
            results = run_load(port, clients, args.seconds, ids)
            p95 = {}
            for kind, samples in results.items():
                lat = samples.latencies
                p95[kind] = _percentile(lat, 0.95) * 1000
                print(f"{clients:>7} {kind:>8} {len(lat):>8} {len(lat) / args.seconds:>7.1f} "
                      f"{statistics.median(lat) * 1000 if lat else float('nan'):>8.1f} {p95[kind]:>8.1f} "
                      f"{max(lat, default=float('nan')) * 1000:>8.1f} {len(samples.errors):>6}")
                for error in samples.errors[:5]:
                    print(f"        error: {error}")
                failed |= bool(samples.errors)
            ratio = p95["search"] / p95["article"] if p95["article"] else float("inf")
            verdict = "ok" if ratio <= 3 else "OVER TARGET"
            failed |= ratio > 3
            print(f"{clients:>7} search p95 / article p95 = {ratio:.2f} (target <= 3: {verdict})")
        return 1 if failed else 0
    finally:
        server.terminate()
        server.wait(timeout=30)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""A benchmark knowledge base of real text: N valid articles assembled from the sentences,
headings and code lines of the shared support corpora, a third of them Chinese.

    python -m bench.realtext OUT_DIR --articles 10000 [--seed 1] [--sources ../shared/corpora]

`bench.synth` draws its words from a list of a few hundred, so its index has a few hundred
distinct terms and every posting list is long and alike; real support text has tens of
thousands of distinct words (product names, commands, identifiers, Chinese compounds), most of
them rare. This corpus keeps that shape: every sentence is a real one (English from the
Microsoft and TiDB Operator articles, Chinese from the PingCAP docs, which mix in English terms
without spaces), with synth's front-matter, vocabulary and error codes on top, so that
`kb build --articles OUT_DIR` indexes it without --lenient and `bench_search` can draw its
query mix from it. Without the shared corpora the bundled `articles/` are the source (for the
test suite's smoke runs).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.synth import CATEGORIES, PRODUCTS, TAGS, error_code, write_vocabulary
from search.schema import plain_text

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "corpora"
BUNDLED = REPO / "articles"
CHINESE_SHARE = 3  # every third article is Chinese
EN_WORDS_PER_ARTICLE = 600
ZH_CHARS_PER_ARTICLE = 1100  # about as much to read as 600 English words

_FRONT = re.compile(r"\A---\n.*?\n---\n", re.S)
_FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[^\n]*$", re.M | re.S)
_NOISE = re.compile(r"^\s*(?:\||:::|\{\{|<|\[!|>\s*\[!|!\[|\*\s*$)")
_HEADING = re.compile(r"^#{1,4}\s+(.+?)\s*#*$", re.M)
_EN_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")
_ZH_SPLIT = re.compile(r"(?<=[。！？；])")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_SHORTCODE = re.compile(r"\{\{<.*?>\}\}|\{%.*?%\}|:::[^\n]*:::|\[!\w+\]")
_SPACES = re.compile(r"\s+")
_LIST_MARK = re.compile(r"^(?:[-*+]|\d+\.)\s+")
# Markup that would survive into a sentence as a broken link or raw HTML: not the text we want.
_MARKUP_LEFT = re.compile(r"[<>\[\]{}|]|\]\(|\.md\b|https?://")
KCS_SECTIONS = {"en": ("Issue", "Environment", "Cause", "Resolution"), "zh": ("问题", "环境", "原因", "解决方法")}


@dataclass
class Pools:
    """Sentences, headings and code lines drawn from the source corpora, by language."""

    sentences: dict[str, list[str]] = field(default_factory=lambda: {"en": [], "zh": []})
    headings: dict[str, list[str]] = field(default_factory=lambda: {"en": [], "zh": []})
    code: list[str] = field(default_factory=list)


def _lang(text: str) -> str:
    return "zh" if len(_CJK.findall(text)) * 4 > len(text) else "en"


def _prose(markdown: str) -> str:
    """Body text without code, tables, HTML, notes and shortcodes, as paragraphs."""
    lines = [line for line in markdown.splitlines() if not _NOISE.match(line) and not line.startswith("#")]
    return plain_text(_SHORTCODE.sub("", "\n".join(lines)))


def collect(sources: list[Path]) -> Pools:
    """Every usable sentence, heading and code line of the Markdown files under `sources`."""
    pools = Pools()
    seen: set[str] = set()
    for source in sources:
        for path in sorted(source.rglob("*.md")):
            if path.name in ("SOURCE.md", "README.md") or "_kb" in path.parts:
                continue
            text = _FRONT.sub("", path.read_text(encoding="utf-8", errors="replace"))
            for match in _FENCE.finditer(text):
                pools.code.extend(line for line in match.group(2).splitlines()
                                  if 10 <= len(line) <= 100 and line.isprintable())
            text = _FENCE.sub("", text)
            for heading in _HEADING.findall(text):
                heading = _SHORTCODE.sub("", plain_text(heading)).strip(" #*`")
                if 4 <= len(heading) <= 80 and heading not in seen and heading.isprintable() \
                        and not _MARKUP_LEFT.search(heading):
                    seen.add(heading)
                    pools.headings[_lang(heading)].append(heading)
            for paragraph in _prose(text).split("\n\n"):
                paragraph = _SPACES.sub(" ", paragraph).strip()
                lang = _lang(paragraph)
                parts = _ZH_SPLIT.split(paragraph) if lang == "zh" else _EN_SPLIT.split(paragraph)
                for sentence in parts:
                    sentence = _LIST_MARK.sub("", sentence.strip())
                    long_enough = len(sentence) >= 12 if lang == "zh" else len(sentence.split()) >= 6
                    if long_enough and len(sentence) <= 400 and sentence not in seen and _lang(sentence) == lang \
                            and sentence.isprintable() and not _MARKUP_LEFT.search(sentence):
                        seen.add(sentence)
                        pools.sentences[lang].append(sentence)
    return pools


def default_sources() -> list[Path]:
    shared = sorted(p for p in SHARED.iterdir() if p.is_dir()) if SHARED.is_dir() else []
    return shared or [BUNDLED]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def article(rng: random.Random, pools: Pools, number: int) -> tuple[str, str]:
    """(relative path, file text) of article `number`."""
    lang = "zh" if number % CHINESE_SHARE == 0 and pools.sentences["zh"] else "en"
    sentences, heads = pools.sentences[lang], pools.headings[lang] or pools.headings["en"]
    category = rng.choice(list(CATEGORIES))
    codes = [error_code(rng) for _ in range(rng.randrange(1, 4))]
    title = f"{rng.choice(heads)} {codes[0]}"
    product = rng.choice(list(PRODUCTS))
    versions = PRODUCTS[product]
    product_value = f"{product}@{rng.choice(versions)}" if versions and rng.random() < 0.5 else product
    tags = sorted(set(rng.sample(TAGS, rng.randrange(1, 4))))
    state = rng.choices(["validated", "unverified", "archived", "draft"], [50, 40, 7, 3])[0]
    article_id = f"real-{number:06d}"
    joiner = "" if lang == "zh" else " "
    budget = ZH_CHARS_PER_ARTICLE if lang == "zh" else EN_WORDS_PER_ARTICLE
    used = 0
    sections: list[str] = []
    kcs = list(KCS_SECTIONS[lang])  # a problem article's four sections, then sub-sections of real headings
    while used < budget or kcs:
        paragraph = []
        for _ in range(rng.randrange(2, 6)):
            text = rng.choice(sentences)
            if rng.random() < 0.1:  # an error code in running text, as tickets quote them
                text = f"{text} {rng.choice(codes)}"
            paragraph.append(text)
            used += len(text) if lang == "zh" else len(text.split())
        section = f"## {kcs.pop(0)}" if kcs else f"### {rng.choice(heads)}"
        section += f"\n\n{joiner.join(paragraph)}"
        if pools.code and rng.random() < 0.2:
            lines = [rng.choice(pools.code) for _ in range(rng.randrange(1, 5))]
            section += "\n\n```\n" + "\n".join(lines) + "\n```"
        sections.append(section)
    summary = rng.choice(sentences)[:150]
    front = [
        "---", f"id: {article_id}", f"title: {_quote(title)}", "type: problem", f"state: {state}", f"lang: {lang}",
        f"categories: [{category}]", f"tags: [{', '.join(tags)}]", f'products: ["{product_value}"]',
        "errors: [" + ", ".join(f'"{c}"' for c in codes) + "]",
        f"summary: {_quote(summary)}", "owner: bench", "---", "",
    ]
    path = f"{lang}/{category.split('/')[0]}/{article_id}.md"
    return path, "\n".join(front) + "\n\n".join(sections) + "\n"


def generate(root: Path, count: int, seed: int = 1, sources: list[Path] | None = None) -> list[str]:
    """Write `count` real-text articles under root; returns their paths."""
    pools = collect(sources or default_sources())
    if not pools.sentences["en"]:
        raise SystemExit(f"no English sentences found in {sources or default_sources()}")
    rng = random.Random(seed)
    write_vocabulary(root)
    paths = []
    for number in range(count):
        rel, text = article(rng, pools, number)
        file = root / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        paths.append(rel)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sources", type=Path, action="append", help="corpus folder (repeatable)")
    args = parser.parse_args(argv)
    paths = generate(args.out, args.articles, args.seed, args.sources)
    print(f"wrote {len(paths)} articles to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

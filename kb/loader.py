"""Loading a whole articles folder: every file, the vocabulary, and the checks across them.

`load_knowledge_base` is what `kb check`, `kb build` and the tests call. It reports
every problem it finds and keeps going; the caller decides what fails.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from kb.article import Article, article_url
from kb.cache import LoadCache, digest
from kb.config import Settings
from kb.errors import Problem, Severity, error, warning
from kb.gitmeta import FileHistory, file_history
from kb.i18n import _, current_language
from kb.ids import ArticleIds
from kb.parse import ParseOptions, parse_article
from kb.render import RenderedBody, limit_exceeded, render_markdown, resolve_target
from kb.schema import normalize_id
from kb.source import read_source
from kb.vocabulary import ONBOARDING_FILE, VOCABULARY_DIR, Vocabulary, load_vocabulary

ARTICLE_SUFFIX = ".md"
# Repository meta files at the top of the articles folder are not articles.
META_FILES = frozenset({"readme.md", "contributing.md", "changelog.md", "license.md"})


# Told which long phase is under way and how far it got: ("loading", 120, 2000). `kb build` shows a bar per
# phase; the search build adds "encoding" and "indexing".
Progress = Callable[[str, int, int], None]


@dataclass
class KnowledgeBase:
    """Every valid article, rendered, with the vocabulary and all problems found."""

    root: Path
    vocabulary: Vocabulary
    articles: list[Article] = field(default_factory=list)
    rendered: dict[str, RenderedBody] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    history: dict[str, FileHistory] = field(default_factory=dict)  # by article path

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

    def by_id(self) -> dict[str, Article]:
        return {a.id: a for a in self.articles}


@dataclass(frozen=True)
class LoadOptions:
    """What to load and how strictly."""

    lenient: bool = False
    default_lang: str = "en"
    max_bytes: int = 1_000_000
    render: bool = True
    git_history: bool = True
    today: dt.date | None = None
    cache_dir: Path | None = None  # where parse and render results are kept between loads
    reuse_cache: bool = True  # False: parse and render everything, then refresh the cache
    progress: Progress | None = None  # told ("loading" | "rendering", done, total) after each article
    # Publishing (build and sync): a reference to an article that is not there (deleted, or left
    # out for its own errors) is a warning, so a broken or deleted article affects only itself; the
    # link renders as plain text, the onboarding path and related list skip it. `kb check` keeps
    # such references errors for the writer to fix.
    missing_references_warn: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> LoadOptions:
        """Options with the language and size limit from the settings, and `options` on top."""
        return cls(default_lang=settings.default_lang, max_bytes=settings.max_article_bytes, **options)


def iter_article_files(root: Path, problems: list[Problem]) -> Iterator[tuple[Path, str]]:
    """Every .md file under root as (file, posix path relative to root), symlinks refused."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel_folder = Path(folder).relative_to(root).as_posix()
        rel_folder = "" if rel_folder == "." else rel_folder + "/"
        for name in sorted(dirs):
            if Path(folder, name).is_symlink():
                problems.append(error(rel_folder + name, "is a symbolic link to a folder; kb never follows links"))
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (rel_folder == "" and d == VOCABULARY_DIR)
                         and not Path(folder, d).is_symlink())
        for name in sorted(files):
            if not name.lower().endswith(ARTICLE_SUFFIX):
                continue
            if rel_folder == "" and name.lower() in META_FILES:
                continue
            yield Path(folder, name), rel_folder + name


def load_knowledge_base(root: Path, options: LoadOptions | None = None) -> KnowledgeBase:
    """Load, validate and render every article under `root`."""
    options = options or LoadOptions()
    vocabulary, problems = load_vocabulary(root, lenient=options.lenient)
    parse_options = ParseOptions(default_lang=options.default_lang, lenient=options.lenient)
    cache = LoadCache.open(options.cache_dir, repr(parse_options), str(options.max_bytes), repr(vocabulary),
                           current_language(),  # cached problems are in the language they were made in
                           reuse=options.reuse_cache)
    parsed: list[Article] = []
    failed_paths: set[str] = set()
    seen_paths: set[str] = set()
    files = list(iter_article_files(root, problems))
    for done, (file, rel) in enumerate(files, start=1):
        if options.progress:
            options.progress("loading", done, len(files))
        seen_paths.add(rel)
        source, found = read_source(file, rel, options.max_bytes)
        article = None
        if source is not None:
            text_digest = digest(source.text)
            cached = cache.parsed_result(rel, text_digest)
            if cached is None:
                cached = parse_article(source, vocabulary, parse_options)
                cache.store_parsed(rel, text_digest, *cached)
            article, more = cached
            found += more
        if options.lenient:
            found = [Problem(p.path, p.line, p.col, Severity.WARNING, p.message) for p in found]
        problems.extend(found)
        if article is None or any(p.is_error for p in found):
            failed_paths.add(rel)
        if article is not None:
            parsed.append(article)

    reference = warning if options.missing_references_warn else error
    cross = _cross_article_problems(parsed, vocabulary, reference)
    cross += _review_problems(parsed, options.today or dt.date.today())
    kb = KnowledgeBase(root=root, vocabulary=vocabulary)
    rendered: dict[str, RenderedBody] = {}
    if options.render:
        rendered, link_problems = _render_all(parsed, cache, reference, options.progress)
        cross += link_problems
    cache.save(seen_paths)
    if options.lenient:
        cross = [Problem(p.path, p.line, p.col, Severity.WARNING, p.message) for p in cross]
    problems.extend(cross)
    failed_paths.update(p.path for p in cross if p.is_error)

    kb.articles = [a for a in parsed if a.path not in failed_paths]
    kb.rendered = {a.id: rendered[a.id] for a in kb.articles if a.id in rendered}
    kb.problems = sorted(set(problems))
    if options.git_history:
        kb.history = file_history(root, [a.path for a in kb.articles])
    return kb


ProblemMaker = Callable[..., Problem]


def _cross_article_problems(articles: list[Article], vocabulary: Vocabulary,
                            reference: ProblemMaker = error) -> list[Problem]:
    """Duplicate ids and aliases, and references to articles that do not exist (as `reference` makes them)."""
    problems: list[Problem] = []
    owners: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        owners[normalize_id(article.id)].append(article)
    for same in owners.values():
        if len(same) > 1:
            for article in same:
                others = ", ".join(o.path for o in same if o is not article)
                message = _("duplicate id %(id)r: also used by %(others)s") % {"id": article.id, "others": others}
                problems.append(error(article.path, message, article.field_lines.get("id", 1)))

    alias_owner: dict[str, Article] = {}
    for article in articles:
        for alias in article.aliases:
            key = normalize_id(alias)
            line = article.field_lines.get("aliases", 1)
            if key in owners and owners[key][0] is not article:
                problems.append(error(article.path, f"alias {alias!r} is the id of {owners[key][0].path}", line))
            elif key in alias_owner and alias_owner[key] is not article:
                other = alias_owner[key]
                problems.append(error(article.path, f"duplicate alias {alias!r}: also an alias of {other.path}", line))
                problems.append(error(other.path, f"duplicate alias {alias!r}: also an alias of {article.path}",
                                      other.field_lines.get("aliases", 1)))
            alias_owner.setdefault(key, article)

    for article in articles:
        refs = [("related", r) for r in article.related]
        if article.translation_of:
            refs.append(("translation_of", article.translation_of))
        for key, target in refs:
            match = owners.get(normalize_id(target))
            if not match:
                message = _("%(field)s: no article has id %(id)r") % {"field": key, "id": target}
                problems.append(reference(article.path, message, article.field_lines.get(key, 1)))
            elif key == "translation_of" and match[0].lang == article.lang:
                problems.append(warning(article.path, f"translation_of: {target!r} is also in {article.lang!r}",
                                        article.field_lines.get(key, 1)))

    onboarding_rel = f"{VOCABULARY_DIR}/{ONBOARDING_FILE}"
    for path in vocabulary.onboarding.values():
        for step, line in zip(path.steps, path.step_lines, strict=True):
            if normalize_id(step) not in owners:
                message = _("onboarding path %(path)r names article %(article)r, which does not exist") % {
                    "path": path.id, "article": step}
                problems.append(reference(onboarding_rel, message, line))
    return problems


def _review_problems(articles: list[Article], today: dt.date) -> list[Problem]:
    return [warning(a.path, _("review overdue since %(date)s; check the article and update `reviewed:`")
                    % {"date": a.review_due},
                    a.field_lines.get("reviewed", 1))
            for a in articles if a.is_review_overdue(today)]


class _LinkIndex:
    """Internal link targets (`kb:ID`, paths), as the renderer resolved them, to articles (kb.ids)."""

    def __init__(self, articles: list[Article]) -> None:
        self.ids = ArticleIds.from_articles(articles)
        self.by_id = {a.id: a for a in articles}

    def find(self, target: str) -> tuple[Article | None, str]:
        """The article a resolved link target (kb.render.resolve_target) points at, and its anchor."""
        ref, _, anchor = target.partition("#")
        found = self.ids.resolve(ref) if ref else None
        return (self.by_id[found] if found else None), anchor

    def url(self, target: str) -> str | None:
        article, anchor = self.find(target)
        if article is None:
            return None
        return article_url(article.id) + (f"#{anchor}" if anchor else "")


def _render_all(articles: list[Article], cache: LoadCache, reference: ProblemMaker = error,
                progress: Progress | None = None) -> tuple[dict[str, RenderedBody], list[Problem]]:
    index = _LinkIndex(articles)
    problems: list[Problem] = []
    rendered: dict[str, RenderedBody] = {}
    for done, article in enumerate(articles, start=1):
        if progress:
            progress("rendering", done, len(articles))
        body = cache.rendered_body(article, index.url)
        if body is None:
            reason = limit_exceeded(article.body)
            if reason is not None:
                problems.append(error(article.path, f"the body cannot be rendered safely: {reason}",
                                      article.body_line))
                continue
            body = cache.render(article, index.url, partial(render_markdown, article.body, source_path=article.path))
        rendered[article.id] = body
        for stripped in sorted(set(body.stripped_html)):
            problems.append(warning(article.path, f"raw HTML {stripped} will be removed when the page is shown",
                                    article.body_line))
    for article in articles:
        body_lines = article.body.split("\n")
        for link in rendered.get(article.id, RenderedBody("", (), (), ())).links:
            target, anchor = index.find(link.resolved or resolve_target(link.target, article.path))
            line = link.line or _find_line(body_lines, link.target)
            file_line = article.body_line + line - 1 if line else article.body_line
            if target is None:
                problems.append(reference(article.path, _("broken link to %(target)r: no such article")
                                          % {"target": link.target}, file_line))
            elif anchor and target.id in rendered and anchor not in {h.anchor for h in rendered[target.id].toc} \
                    and f'id="{anchor}"' not in rendered[target.id].html:
                problems.append(reference(article.path, f"broken link to {link.target!r}: "
                                                        f"{target.path} has no heading #{anchor}", file_line))
    return rendered, problems


def _find_line(lines: list[str], needle: str) -> int | None:
    for number, line in enumerate(lines, start=1):
        if needle in line:
            return number
    return None

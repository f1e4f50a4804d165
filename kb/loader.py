"""Loading a whole articles folder: every file, the vocabulary, and the checks across them.

`load_knowledge_base` is what `kb check`, `kb build` and the tests call. It reports
every problem it finds and keeps going; the caller decides what fails.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kb.article import Article, article_url
from kb.cache import LoadCache, digest
from kb.config import Settings
from kb.errors import Problem, Severity, error, warning
from kb.gitmeta import FileHistory, file_history
from kb.i18n import _, current_language
from kb.ids import ArticleIds
from kb.media import MediaFile, MediaIndex, MediaProblem, is_media_target
from kb.parse import ParseOptions, parse_article, partial_article
from kb.render import RenderedBody, limit_exceeded, resolve_target
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
    media: dict[str, MediaFile] = field(default_factory=dict)  # files the valid articles link to, by digest

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
    max_media_bytes: int = 10_000_000
    render: bool = True
    git_history: bool = True
    today: dt.date | None = None
    cache_dir: Path | None = None  # where parse and render results are kept between loads
    reuse_cache: bool = True  # False: parse and render everything, then refresh the cache
    processes: int = 1  # worker processes rendering what the cache lacks (0: one per CPU; see kb.cache)
    progress: Progress | None = None  # told ("loading" | "rendering", done, total) after each article
    # Publishing (build and sync): a reference to an article that is not there (deleted, or left
    # out for its own errors) is a warning, so a broken or deleted article affects only itself; the
    # link renders as plain text, the onboarding path and related list skip it. `kb check` keeps
    # such references errors for the writer to fix.
    missing_references_warn: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> LoadOptions:
        """Options with the language and size limit from the settings, and `options` on top."""
        return cls(default_lang=settings.default_lang, max_bytes=settings.max_article_bytes,
                   max_media_bytes=settings.max_media_bytes, processes=settings.build_processes, **options)


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
    # Articles with errors, parsed as far as possible, so that one `kb check` also reports their links.
    with_errors: list[Article] = []
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
            if article is None and source is not None and not options.lenient:
                article = partial_article(source, parse_options)
            if article is not None:
                with_errors.append(article)
        elif article is not None:
            parsed.append(article)

    reference = warning if options.missing_references_warn else error
    cross = _cross_article_problems(parsed, vocabulary, reference)
    cross += _review_problems(parsed, options.today or dt.date.today())
    kb = KnowledgeBase(root=root, vocabulary=vocabulary)
    rendered: dict[str, RenderedBody] = {}
    media = MediaIndex(root, options.max_media_bytes)
    if options.render:
        rendered, link_problems = _render_all(parsed, cache, reference, options.progress, options.processes,
                                              media=media, with_errors=with_errors)
        cross += link_problems
    cache.save(seen_paths)
    if options.lenient:
        cross = [Problem(p.path, p.line, p.col, Severity.WARNING, p.message) for p in cross]
    problems.extend(cross)
    failed_paths.update(p.path for p in cross if p.is_error)

    kb.articles = [a for a in parsed if a.path not in failed_paths]
    kb.rendered = {a.id: rendered[a.path] for a in kb.articles if a.path in rendered}
    kb.media = _linked_media(kb, media)
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
    """Internal link targets (`kb:ID`, paths), as the renderer resolved them, to articles (kb.ids),
    and file targets to media (kb.media)."""

    def __init__(self, articles: list[Article], media: MediaIndex | None = None) -> None:
        self.ids = ArticleIds.from_articles(articles)
        self.by_id = {a.id: a for a in articles}
        self.media = media

    def find(self, target: str) -> tuple[Article | None, str]:
        """The article a resolved link target (kb.render.resolve_target) points at, and its anchor."""
        ref, _, anchor = target.partition("#")
        found = self.ids.resolve(ref) if ref else None
        return (self.by_id[found] if found else None), anchor

    def find_media(self, joined_target: str) -> MediaFile:
        """The media file a link or image points at, its target joined to the articles root and
        unquoted (kb.render.resolve_target); raises MediaProblem."""
        if self.media is None:
            raise MediaProblem("media files are not looked up here")
        return self.media.lookup(joined_target.partition("#")[0].partition("?")[0])

    def url(self, target: str) -> str | None:
        """The site URL for a target joined to the articles root (what the renderer asks for)."""
        if is_media_target(target):
            try:
                return self.find_media(target).url
            except MediaProblem:
                return None
        article, anchor = self.find(target)
        if article is None:
            return None
        return article_url(article.id) + (f"#{anchor}" if anchor else "")


def _render_all(articles: list[Article], cache: LoadCache, reference: ProblemMaker = error,
                progress: Progress | None = None, processes: int = 1, *, media: MediaIndex | None = None,
                with_errors: list[Article] | None = None) -> tuple[dict[str, RenderedBody], list[Problem]]:
    """Render every article (by path; uncached ones in `processes` worker processes) and report broken
    links and media (as `reference` makes them); `with_errors` articles (those with front-matter errors)
    are rendered only so their links are checked in the same run."""
    index = _LinkIndex(articles, media)
    everything = [*articles, *(with_errors or ())]
    problems: list[Problem] = []
    found: dict[str, RenderedBody] = {}
    pending: list[Article] = []
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1
        if progress:
            progress("rendering", done, len(everything))

    for article in everything:
        body = cache.rendered_body(article, index.url)
        if body is not None:
            found[article.path] = body
            advance()
            continue
        reason = limit_exceeded(article.body)
        if reason is not None:
            problems.append(error(article.path, f"the body cannot be rendered safely: {reason}", article.body_line))
            advance()
        else:
            pending.append(article)
    for article, body in cache.render_many(pending, index.url, processes):
        found[article.path] = body
        advance()
    rendered = {a.path: found[a.path] for a in everything if a.path in found}  # in article order, as before
    for article in everything:
        body = rendered.get(article.path)
        if body is None:
            continue
        for stripped in sorted(set(body.stripped_html)):
            problems.append(warning(article.path, f"raw HTML {stripped} will be removed when the page is shown",
                                    article.body_line))
    for article in everything:
        problems.extend(_link_problems(article, rendered, index, reference))
    return rendered, problems


def _link_problems(article: Article, rendered: dict[str, RenderedBody], index: _LinkIndex,
                   reference: ProblemMaker = error) -> list[Problem]:
    """Broken links, missing or refused media files and images without alt text, at path:line:col."""
    problems: list[Problem] = []
    body_lines = article.body.split("\n")
    body = rendered.get(article.path, RenderedBody("", (), (), ()))
    for image in body.external_images:
        line = image.line or _find_line(body_lines, image.target)
        problems.append(warning(article.path, f"image {image.target!r} is on another site: the site's "
                                              "Content-Security-Policy will not load it; save the file beside "
                                              "the article and link it as ![what it shows](file.png)",
                                article.body_line + line - 1 if line else article.body_line, image.col or 1))
    for link in body.links:
        line = link.line or _find_line(body_lines, link.target)
        file_line = article.body_line + line - 1 if line else article.body_line
        col = link.col or 1
        joined = link.resolved or resolve_target(link.target, article.path)
        if is_media_target(joined):
            try:
                index.find_media(joined)
            except MediaProblem as exc:
                what = "image" if link.image else "link"
                problems.append(reference(article.path, f"broken {what} {link.target!r}: {exc}", file_line, col))
                continue
            if link.image and not link.alt:
                problems.append(warning(article.path, f"image {link.target!r} has no alt text: describe it for "
                                                      "readers who cannot see it, ![what it shows](file)",
                                        file_line, col))
            continue
        target, anchor = index.find(joined)
        if target is None:
            problems.append(reference(article.path, _("broken link to %(target)r: no such article")
                                      % {"target": link.target}, file_line, col))
        elif anchor and target.path in rendered and anchor not in {h.anchor for h in rendered[target.path].toc} \
                and f'id="{anchor}"' not in rendered[target.path].html:
            problems.append(reference(article.path, f"broken link to {link.target!r}: "
                                                    f"{target.path} has no heading #{anchor}", file_line, col))
    return problems


def _linked_media(kb: KnowledgeBase, media: MediaIndex) -> dict[str, MediaFile]:
    """The media files the valid articles' rendered bodies link to, by digest."""
    used = {url for body in kb.rendered.values() for url in _media_urls(body)}
    return {digest: file for digest, file in media.files().items() if file.url in used}


def _media_urls(body: RenderedBody) -> set[str]:
    return {m for m in re.findall(r'(?:src|href)="(/media/[^"]+)"', body.html)}


def _find_line(lines: list[str], needle: str) -> int | None:
    for number, line in enumerate(lines, start=1):
        if needle in line:
            return number
    return None

"""Turning one article file into an Article, with a problem for every fault in it."""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from kb.article import Article
from kb.errors import Problem, Severity, error, warning
from kb.i18n import _
from kb.schema import FIELDS_BY_NAME, FOREIGN_SUMMARY_KEYS, FieldError
from kb.source import SourceText, split_front_matter
from kb.vocabulary import Vocabulary
from kb.yamlsafe import YamlMapping, parse_mapping

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN = re.compile(r"[A-Za-z]")
FENCED_CODE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)

# KCS structure of a problem article, accepted in either language.
KCS_SECTIONS = (("issue", "问题"), ("environment", "环境"), ("resolution", "解决方法"), ("cause", "原因"))


@dataclass(frozen=True)
class ParseOptions:
    """How strictly to read articles."""

    default_lang: str = "en"
    lenient: bool = False


def parse_article(source: SourceText, vocabulary: Vocabulary, options: ParseOptions
                  ) -> tuple[Article | None, list[Problem]]:
    """Validate one file's front-matter against the schema and the vocabulary."""
    split, problems = split_front_matter(source)
    mapping: YamlMapping | None = YamlMapping()
    if split.front_matter is None:
        if not problems and not options.lenient:
            first = next((n for n, line in enumerate(split.body.split("\n"), 1) if line.strip()), 1)
            if split.body.split("\n")[first - 1].strip() == "---":
                message = _("front-matter must start on line 1; remove what comes before the `---`")
                problems.append(error(source.path, message, first))
            else:
                message = _("no front-matter: start the file with a `---` line, then `id:` and `title:`, then `---`")
                problems.append(error(source.path, message))
    else:
        mapping, found = parse_mapping(source.path, split.front_matter, split.front_matter_line - 1)
        problems.extend(found)
    if mapping is None:
        if not options.lenient:
            return None, problems
        mapping = YamlMapping()

    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, raw in mapping.values.items():
        line, col = mapping.lines[key]
        field = FIELDS_BY_NAME.get(key)
        if field is None:
            if options.lenient:
                extra[key] = raw
            else:
                problems.append(error(source.path, _unknown_key_message(key), line, col))
            continue
        try:
            values[key] = field.parse(raw)
        except FieldError as exc:
            if options.lenient and key in ("title", "summary"):
                extra[key] = raw
            problems.append(error(source.path, f"{key}: {exc}", line, col))

    if options.lenient:
        _fill_foreign(values, extra, source.path, split.body)
    for name in ("id", "title"):
        if name not in values and name not in mapping.values:
            problems.append(error(source.path, _("missing required `%(field)s:` in the front-matter") % {"field": name},
                                  split.front_matter_line if split.front_matter is not None else 1))

    values.setdefault("lang", _detect_lang(split.body, options.default_lang) if options.lenient
                      else options.default_lang)
    problems.extend(_vocabulary_problems(source.path, values, mapping, vocabulary, options))
    problems.extend(_body_problems(source.path, values, split.body, split.body_line, options))

    if options.lenient:
        problems = [_as_warning(p) for p in problems]
    if any(p.is_error for p in problems) or "id" not in values or "title" not in values:
        return None, problems
    article = Article(
        path=source.path, body=split.body, body_line=split.body_line, extra=extra,
        field_lines={key: line for key, (line, _) in mapping.lines.items()}, **values,
    )
    return article, problems


def _unknown_key_message(key: str) -> str:
    close = difflib.get_close_matches(key, FIELDS_BY_NAME, n=1, cutoff=0.6)
    if close:
        return _("unknown key `%(key)s`; did you mean `%(close)s`?") % {"key": key, "close": close[0]}
    return _("unknown key `%(key)s`; known keys: %(known)s") % {"key": key, "known": ", ".join(FIELDS_BY_NAME)}


def _as_warning(problem: Problem) -> Problem:
    return Problem(problem.path, problem.line, problem.col, Severity.WARNING, problem.message)


def path_id(rel_path: str) -> str:
    """An id made from a file's path, for corpora whose front-matter has none."""
    stem = str(PurePosixPath(rel_path).with_suffix(""))
    text = unicodedata.normalize("NFKC", stem).lower()
    text = re.sub(r"[^a-z0-9._/-]+", "-", text)
    return re.sub(r"-{2,}", "-", text).strip("-/") or "article"


def first_heading(body: str) -> str | None:
    """Text of the first Markdown heading outside code blocks."""
    for line in FENCED_CODE.sub("", body).split("\n"):
        match = HEADING.match(line)
        if match:
            return match.group(2).strip()
    return None


def _fill_foreign(values: dict[str, Any], extra: dict[str, Any], rel_path: str, body: str) -> None:
    """Title, id and summary for an article written to another schema (--lenient)."""
    values.setdefault("id", path_id(rel_path))
    if "title" not in values:
        values["title"] = first_heading(body) or PurePosixPath(rel_path).stem.replace("-", " ")
    if "summary" not in values:
        for key in FOREIGN_SUMMARY_KEYS:
            if isinstance(extra.get(key), str) and extra[key].strip():
                values["summary"] = extra[key].strip()
                break


def _detect_lang(body: str, default: str) -> str:
    """zh when Chinese characters make up a real share of the letters, else en."""
    text = FENCED_CODE.sub("", body)
    cjk = len(CJK.findall(text))
    latin = len(LATIN.findall(text))
    if cjk == 0 and latin == 0:
        return default
    # A Chinese character carries about as much as a 4-letter English word.
    return "zh" if cjk * 4 >= latin * 0.5 else "en"


def _vocabulary_problems(path: str, values: dict[str, Any], mapping: YamlMapping,
                         vocabulary: Vocabulary, options: ParseOptions) -> list[Problem]:
    problems = []
    checks = (("categories", vocabulary.categories, "category"), ("tags", vocabulary.tags, "tag"))
    for key, allowed, what in checks:
        if options.lenient and not allowed:
            continue
        for index, value in enumerate(values.get(key, ())):
            if value not in allowed:
                close = difflib.get_close_matches(value, allowed, n=1)
                allowed_list = ", ".join(sorted(allowed))
                message = (_("unknown %(what)s %(value)r; did you mean %(close)r? allowed: %(allowed)s") if close
                           else _("unknown %(what)s %(value)r; allowed: %(allowed)s"))
                label = _("category") if what == "category" else _("tag")
                problems.append(error(path, message % {"what": label, "value": value,
                                                       "close": close[0] if close else "", "allowed": allowed_list},
                                      mapping.item_line(key, index)))
    if not (options.lenient and not vocabulary.products):
        for index, value in enumerate(values.get("products", ())):
            reason = vocabulary.product_problem(value)
            if reason:
                problems.append(error(path, reason, mapping.item_line("products", index)))
    return problems


def _body_problems(path: str, values: dict[str, Any], body: str, body_line: int,
                   options: ParseOptions) -> list[Problem]:
    problems = []
    if "summary" not in values:
        problems.append(warning(path, _("no `summary:`; search results will show the first lines instead")))
    # Foreign corpora have no KCS structure to expect.
    if values.get("type", "problem") == "problem" and not options.lenient:
        headings = {m.group(2).strip().casefold() for line in FENCED_CODE.sub("", body).split("\n")
                    if (m := HEADING.match(line))}
        missing = [en.capitalize() for en, zh in KCS_SECTIONS if en not in headings and zh not in headings]
        if missing:
            message = _("problem article lacks the KCS section(s) %(sections)s (## Issue, ## Environment, "
                        "## Resolution, ## Cause)") % {"sections": ", ".join(missing)}
            problems.append(warning(path, message, body_line))
    return problems


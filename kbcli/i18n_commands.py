"""`kb i18n extract` and `kb i18n check`: the gettext catalogue kept in step with the code and templates.

Extraction uses Babel (Python sources and Jinja templates, through Jinja's own Babel extractor), so
translators get a standard `.pot`/`.po` pair that Poedit, Weblate or Lokalise read as they are.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kb.i18n import CLDR_LOCALES, DOMAIN, LOCALE_DIR, catalogue_path, translations
from kbcli.options import KbGroup

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog, Message

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("kb", "search", "web", "kbcli")
TEMPLATE_NAME = f"{DOMAIN}.pot"
# Besides gettext's own names: the site's helpers (translate_to's message is its second argument).
SITE_KEYWORDS: dict[str, Any] = {"translate": None, "translate_to": (2,), "translate_plural": (1, 2), "N_": None}
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**/templates/**.xml", "jinja2.ext:babel_extract"),
           ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"},
           "**/templates/**.xml": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
TRANSLATED_LANGUAGES = ("zh",)


@dataclass(frozen=True)
class Missing:
    """A message the catalogue of `lang` does not translate, and where the code uses it."""

    lang: str
    msgid: str | tuple[str, str]
    locations: tuple[tuple[str, int], ...]

    def as_po(self, suggestion: str = "") -> str:
        where = " ".join(f"{path}:{line}" for path, line in self.locations[:3])
        if isinstance(self.msgid, tuple):
            return (f"#: {where}\nmsgid {_quote(self.msgid[0])}\nmsgid_plural {_quote(self.msgid[1])}\n"
                    f"msgstr[0] {_quote(suggestion)}\n")
        return f"#: {where}\nmsgid {_quote(self.msgid)}\nmsgstr {_quote(suggestion)}\n"


def _msgid(message: Message) -> str | tuple[str, str]:
    if isinstance(message.id, str):
        return message.id
    return str(message.id[0]), str(message.id[1])


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def extract() -> Catalog:
    """Every message the site and the CLI use, with where they use it."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    template = Catalog(domain=DOMAIN, project="kb", msgid_bugs_address="", charset="utf-8")
    keywords = {**DEFAULT_KEYWORDS, **SITE_KEYWORDS}
    for folder in SOURCES:
        for filename, lineno, message, comments, context in extract_from_dir(
                ROOT / folder, METHODS, OPTIONS, keywords, comment_tags=("Translators:",), strip_comment_tags=True):
            if not message or (isinstance(message, tuple) and not all(message)):
                continue
            msgid = message if isinstance(message, str) else tuple(message[:2])
            template.add(msgid, locations=[(f"{folder}/{filename}", lineno)], auto_comments=comments,
                         context=context)
    return template


def _legacy(lang: str) -> dict[str, str]:
    """The older per-language tables in web/i18n.py (their entries seed the catalogue)."""
    from web.i18n import TRANSLATIONS

    return dict(TRANSLATIONS.get(lang, {}))


def _read(lang: str) -> Catalog:
    from babel import Locale
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    path = catalogue_path(lang)
    locale = Locale.parse(CLDR_LOCALES[lang])
    if not path.exists():
        return Catalog(locale=locale, domain=DOMAIN, project="kb", charset="utf-8")
    with open(path, "rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return not message.fuzzy and all(s for s in strings)


def _seed(message: Message, table: dict[str, str]) -> None:
    """Fill an untranslated message from the legacy table when it has the same English text."""
    if _translated(message):
        return
    if isinstance(message.id, tuple):
        found = table.get(message.id[1]) or table.get(message.id[0])
        if found:
            message.string = (found,)
    elif message.id in table:
        message.string = table[message.id]


def update() -> dict[str, list[Missing]]:
    """Write messages.pot and merge it into each language's .po; what is still untranslated, per language."""
    template = extract()
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    _write(LOCALE_DIR / TEMPLATE_NAME, template)
    missing: dict[str, list[Missing]] = {}
    for lang in TRANSLATED_LANGUAGES:
        catalog = _read(lang)
        catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        table = _legacy(lang)
        for message in catalog:
            if message.id:
                _seed(message, table)
        catalog.obsolete.clear()
        path = catalogue_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, catalog)
        missing[lang] = [Missing(lang, _msgid(m), tuple(m.locations)) for m in catalog if m.id and not _translated(m)]
    translations.cache_clear()
    return missing


def _write(path: Path, catalog: Catalog) -> None:
    from babel.messages.pofile import write_po

    catalog.fuzzy = False
    catalog.project, catalog.version = "kb", ""
    catalog.language_team = "kb translators"
    buffer = io.BytesIO()
    # No line numbers: moving code must not churn the catalogue (and conflict in every merge).
    write_po(buffer, catalog, width=100, sort_output=True, ignore_obsolete=True, include_lineno=False)
    new = buffer.getvalue()
    # Only the header's dates changed: keep the file as it is, so extraction never makes a diff by itself.
    if path.exists() and _without_dates(path.read_bytes()) == _without_dates(new):
        return
    path.write_bytes(new)


def _without_dates(text: bytes) -> bytes:
    return re.sub(rb'^"(POT-Creation-Date|PO-Revision-Date): [^"]*"\n', b"", text, flags=re.M)


def untranslated() -> Iterator[Missing]:
    """Messages used in the code or templates that a language's catalogue does not translate (nothing written)."""
    template = extract()
    for lang in TRANSLATED_LANGUAGES:
        catalog = _read(lang)
        for message in template:
            if not message.id:
                continue
            known = catalog.get(message.id)
            if known is None or not _translated(known):
                yield Missing(lang, _msgid(message), tuple(message.locations))


def instructions(missing: Iterable[Missing]) -> str:
    """What to do about untranslated messages: the command, then each entry to fill in, ready to paste."""
    items = list(missing)
    tables = {lang: _legacy(lang) for lang in {m.lang for m in items}}
    seeded = [m for m in items if _suggest(m, tables[m.lang])]
    files = ", ".join(sorted({str(catalogue_path(m.lang).relative_to(ROOT)) for m in items}))
    lines = [f"{len(items)} message(s) have no translation in {files}.",
             "Run `kb i18n extract`: it adds every message the code and templates use to the catalogue"
             + (f", taking {len(seeded)} translation(s) from web/i18n.py's tables" if seeded else "") + ".",
             "Then write the msgstr of each entry that is still empty, and commit the .po file:", ""]
    for item in items:
        lines.append(item.as_po(_suggest(item, tables[item.lang])))
    return "\n".join(lines)


def _suggest(item: Missing, table: dict[str, str]) -> str:
    if isinstance(item.msgid, tuple):
        return table.get(item.msgid[1]) or table.get(item.msgid[0]) or ""
    return table.get(item.msgid, "")


@click.group("i18n", cls=KbGroup)
def i18n() -> None:
    """Translations: refresh the gettext catalogue from the code, or list what is untranslated."""


@i18n.command("extract")
def extract_command() -> None:
    """Extract every message into kb/locale/messages.pot and merge it into each language's .po file."""
    missing = update()
    for lang, items in missing.items():
        click.echo(f"{catalogue_path(lang).relative_to(ROOT)}: {len(items)} message(s) still untranslated", err=True)


@i18n.command("check")
def check_command() -> int:
    """List messages without a translation (as .po entries to fill in); exit 1 if there are any."""
    missing = list(untranslated())
    if missing:
        click.echo(instructions(missing))
        return 1
    click.echo("every message is translated", err=True)
    return 0


COMMANDS = (i18n,)

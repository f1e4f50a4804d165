"""Translations with gettext: one catalogue, `kb/locale/<lang>/LC_MESSAGES/messages.po`, shared by
the site and the CLI; CLDR dates and plural rules from Babel.

Messages are whole English sentences with named placeholders (`"%(count)d valid articles"`),
plurals go through `ngettext`, and the `.po` files are read directly (no compiled `.mo` to keep in
step). `kb i18n extract` refreshes the catalogue from the code and templates; `kb i18n check` and
tests/test_i18n.py list what is still untranslated. The CLI's language is KB_LANG, else the
locale (LC_ALL, LC_MESSAGES, LANG, LANGUAGE): any Chinese locale speaks Chinese.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import gettext as stdlib_gettext
import io
import os
from collections.abc import Mapping
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
LANGUAGES = ("en", "zh")
# The CLDR locale each interface language formats dates with: 24 Nov 2026, 2026年11月24日.
CLDR_LOCALES = {"en": "en_GB", "zh": "zh_Hans_CN"}
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")

_language: contextvars.ContextVar[str | None] = contextvars.ContextVar("kb_language", default=None)


def catalogue_path(lang: str) -> Path:
    """Where a language's catalogue lives (checked into git)."""
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: str) -> stdlib_gettext.NullTranslations:
    """The catalogue of `lang`, read from its .po file once per process (English: the messages themselves)."""
    path = catalogue_path(lang)
    if lang not in LANGUAGES or not path.exists():
        return stdlib_gettext.NullTranslations()
    # Imported here: an English `kb` command never pays for Babel (about 90 ms).
    from babel import Locale
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with open(path, "rb") as handle:
        catalog = read_po(handle, locale=Locale.parse(CLDR_LOCALES.get(lang, lang)), domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The CLI's language: KB_LANG, else the first locale variable set (zh_CN.UTF-8 -> zh), else English."""
    env = os.environ if environ is None else environ
    for name in ("KB_LANG", *LOCALE_VARIABLES):
        value = env.get(name, "").strip()
        if not value:
            continue
        primary = value.split(":", 1)[0].split(".", 1)[0].split("_", 1)[0].split("-", 1)[0].lower()
        return primary if primary in LANGUAGES else "en"
    return "en"


def use_language(lang: str | None) -> contextvars.Token[str | None]:
    """Speak `lang` in this context (a web request sets the reader's language; None: the environment's)."""
    return _language.set(lang)


def current_language() -> str:
    """The language messages are translated into now."""
    return _language.get() or language_from_environment()


def gettext(message: str) -> str:
    """`message` in the current language."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form for `count`, by the current language's plural rule."""
    return translations(current_language()).ngettext(singular, plural, count)


_ = gettext


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet (it is translated where it is shown)."""
    return message


def format_date(value: dt.date | dt.datetime, lang: str | None = None) -> str:
    """A date as a reader of `lang` writes it (CLDR): 24 Nov 2026 or 2026年11月24日."""
    from babel.dates import format_date as cldr_format_date

    chosen = lang or current_language()
    day = value.date() if isinstance(value, dt.datetime) else value
    if chosen == "zh":
        return cldr_format_date(day, format="long", locale=CLDR_LOCALES["zh"])
    return cldr_format_date(day, format="medium", locale=CLDR_LOCALES["en"])

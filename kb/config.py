"""Settings: declared once with defaults and help, overridable by KB_ environment variables.

The CLI, build.py and the web app all read settings through `load_settings`, and
the README's settings reference is checked against `SETTINGS` by a test.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from kb.errors import ConfigError

ENV_PREFIX = "KB_"


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Every setting kb knows; the environment variable is KB_ plus the name in capitals."""

    articles_dir: Path = _setting(Path("articles"), "Folder of Markdown articles (a git checkout).")
    index_dir: Path = _setting(Path("var/index"), "Folder holding search index builds.")
    database_url: str = _setting("sqlite:///var/records.db", "Records database (SQLite or PostgreSQL URL).")
    default_lang: str = _setting("en", "Language of articles without `lang:` (zh or en).")
    max_article_bytes: int = _setting(1_000_000, "Articles larger than this are rejected by `kb check`.")
    host: str = _setting("127.0.0.1", "Address `kb serve` listens on.")
    port: int = _setting(8080, "Port `kb serve` listens on.")
    site_name: str = _setting("kb", "Name shown in the site header.")
    edit_url_template: str = _setting(
        "", "URL to edit an article on the git host; `{path}` is replaced by its path."
    )
    history_url_template: str = _setting(
        "", "URL of an article's history on the git host; `{path}` is replaced by its path."
    )
    secret_key: str = _setting("", "Secret for signing sessions and CSRF tokens (random if empty).")
    trusted_hosts: str = _setting("", "Comma-separated host names the site answers to (any if empty).")
    api_token_hash: str = _setting(
        "", "SHA-256 hex digest of the bearer token ticketing systems send to /api/resolutions (API off if empty)."
    )
    user_header: str = _setting(
        "", "Request header in which the reverse proxy names the signed-in user (off if empty; else the form's name)."
    )
    search_log_retention_days: int = _setting(90, "Days searches are kept in the search log.")
    warm_terms: int = _setting(
        2000, "Most frequent words whose postings each web worker reads into memory, in the background, when it "
        "opens an index build (0: read each word on first use)."
    )
    semantic: bool = _setting(
        True, "Semantic retrieval: `kb build` encodes articles' sections as sentence vectors and search blends "
        "them with word matching (off: word matching only)."
    )
    sync_remote: str = _setting(
        "origin", "Where `kb sync` fetches articles from: a remote of the articles checkout, a git URL or a path."
    )
    sync_branch: str = _setting("main", "Branch of the articles repository the site serves.")
    hook_secret: str = _setting(
        "", "Shared secret of the push webhook POST /api/hooks/git (HMAC key or GitLab token; off if empty)."
    )

    @property
    def vocabulary_dir(self) -> Path:
        """Where the categories, tags, products, synonyms and onboarding paths live."""
        return self.articles_dir / "_kb"


SETTINGS: tuple[dataclasses.Field[Any], ...] = fields(Settings)


def env_name(setting: dataclasses.Field[Any]) -> str:
    """The environment variable that overrides a setting."""
    return ENV_PREFIX + setting.name.upper()


def _parse(setting: dataclasses.Field[Any], raw: str) -> Any:
    kind = type(setting.default)
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{env_name(setting)} must be a whole number, got {raw!r}") from None
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if issubclass(kind, Path):
        return Path(raw)
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then KB_ environment variables, then explicit overrides (None means unset)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(env_name(setting))
        if raw is not None and raw != "":
            values[setting.name] = _parse(setting, raw)
    for name, value in overrides.items():
        if value is not None:
            values[name] = Path(value) if name.endswith("_dir") else value
    settings = Settings(**values)
    if settings.default_lang not in ("zh", "en"):
        raise ConfigError(f"KB_DEFAULT_LANG must be zh or en, got {settings.default_lang!r}")
    return settings

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
# KB_SECRET_KEY_FILE=/run/secrets/kb_secret_key: any setting may be read from a file instead (container secrets).
FILE_SUFFIX = "_FILE"
TICKET_ID_CASES = ("insensitive", "sensitive")
NOTIFY_FORMATS = ("auto", "json", "dingtalk", "feishu", "wecom", "slack", "teams")


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
    max_media_bytes: int = _setting(
        10_000_000, "Images and attachments larger than this are rejected by `kb check` (and left out of the site)."
    )
    base_url: str = _setting(
        "", "The site's public address, e.g. https://kb.example.com; `kb search` then prints each hit's URL."
    )
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
        "", "Request header in which the reverse proxy names the signed-in user (off if empty; else the form's name). "
        "Read only from requests whose peer is one of KB_PROXY_IPS."
    )
    proxy_ips: str = _setting(
        "127.0.0.1,::1", "Comma-separated addresses or networks (CIDR) of the reverse proxy: only requests from them "
        "may name the user in KB_USER_HEADER (gunicorn's forwarded_allow_ips reads the same variable)."
    )
    secure_cookies: bool = _setting(
        False, "Mark the session and language cookies Secure (sent over HTTPS only); turn on behind TLS."
    )
    min_free_mb: int = _setting(
        100, "/healthz fails (503) when a folder kb writes to (the index, a SQLite database) has less free space."
    )
    search_log_retention_days: int = _setting(
        90, "Days searches are kept in the search log (older ones are deleted as new ones arrive; 0 keeps all)."
    )
    ticket_id_case: str = _setting(
        "insensitive", "`insensitive`: SD-2001 and sd-2001 are one ticket (the first spelling is kept); `sensitive`."
    )
    ticket_url_template: str = _setting(
        "", "Link to a ticket in the ticketing system; `{ticket}` and `{system}` are replaced (no links if empty)."
    )
    notify_webhook: str = _setting(
        "", "Webhook told about new flags, broken pushes and the weekly review-due list (off if empty)."
    )
    notify_format: str = _setting(
        "auto", "Body of KB_NOTIFY_WEBHOOK calls: json, dingtalk, feishu, wecom, slack, teams, or auto (by host)."
    )
    site_url: str = _setting("", "The site's public address, for links in notifications (e.g. https://kb.example.com).")
    warm_terms: int = _setting(
        2000, "Most frequent words whose postings each web worker reads into memory, in the background, when it "
        "opens an index build (0: read each word on first use)."
    )
    build_processes: int = _setting(
        0, "Processes a build renders and indexes articles with (0: one per CPU; 1: no worker processes)."
    )
    semantic: bool = _setting(
        True, "Semantic retrieval: `kb build` encodes articles' sections as sentence vectors and search blends "
        "them with word matching (off: word matching only)."
    )
    metrics_textfile: str = _setting(
        "", "File `kb sync --watch` keeps writing Prometheus metrics to, for node_exporter's textfile collector "
        "(a path ending in .prom; off if empty)."
    )
    slack_signing_secret: str = _setting(
        "", "Signing secret of the Slack app whose slash command calls POST /chat/slack (off if empty)."
    )
    teams_hmac_secret: str = _setting(
        "", "Security token (base64) Teams showed when the outgoing webhook for POST /chat/teams was made "
        "(off if empty)."
    )
    dingtalk_app_secret: str = _setting(
        "", "AppSecret of the DingTalk robot whose outgoing messages call POST /chat/dingtalk (off if empty)."
    )
    feishu_verification_token: str = _setting(
        "", "Verification Token of the Feishu (Lark) app whose events call POST /chat/feishu (off if empty)."
    )
    ticket_hmac_secret: str = _setting(
        "", "HMAC-SHA1 key of ticketing webhooks signed in X-Hub-Signature (Zammad), accepted instead of the bearer "
        "token on POST /api/resolutions and /api/tickets/closed (off if empty)."
    )
    cors_origins: str = _setting(
        "", "Comma-separated origins (https://acme.zendesk.com) whose pages may call /api/suggest and /api/search "
        "from the browser: agent sidebars (none if empty)."
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
MIN_SECRET_CHARS = 16
# Values shipped in examples (deploy/kb.env) or typed in haste; a site must never start with one.
PLACEHOLDER_SECRETS = frozenset({"change-me", "changeme", "change_me", "secret", "password", "xxx", "todo",
                                 "replace-me", "your-secret", "example"})
SECRET_SETTINGS = ("secret_key", "hook_secret")


def check_secrets(settings: Settings) -> None:
    """Refuse placeholder secrets and secrets under MIN_SECRET_CHARS characters (empty means unset: allowed)."""
    for name in SECRET_SETTINGS:
        value: str = getattr(settings, name)
        if not value:
            continue
        variable = ENV_PREFIX + name.upper()
        hint = "make one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        if value.strip().lower() in PLACEHOLDER_SECRETS or "change-me" in value.lower():
            raise ConfigError(f"{variable} is still the placeholder {value!r}; {hint}")
        if len(value) < MIN_SECRET_CHARS:
            raise ConfigError(f"{variable} is {len(value)} characters long; use at least {MIN_SECRET_CHARS} ({hint})")


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
        word = raw.strip().lower()
        if word not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            raise ConfigError(f"{env_name(setting)} must be on or off (1/0, true/false, yes/no), got {raw!r}")
        return word in {"1", "true", "yes", "on"}
    if issubclass(kind, Path):
        return Path(raw)
    return raw


def _read_secret_file(variable: str, path: str) -> str:
    """A setting from a file (Docker and Kubernetes secrets): its text less the trailing newline."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{variable}: {path} is not UTF-8 text") from None


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then KB_ environment variables (or the file a KB_..._FILE variable names), then explicit
    overrides (None means unset)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(env_name(setting))
        secret_file = env.get(env_name(setting) + FILE_SUFFIX)
        if (raw is None or raw == "") and secret_file:
            raw = _read_secret_file(env_name(setting) + FILE_SUFFIX, secret_file)
        if raw is not None and raw != "":
            values[setting.name] = _parse(setting, raw)
    for name, value in overrides.items():
        if value is not None:
            values[name] = Path(value) if name.endswith("_dir") else value
    settings = Settings(**values)
    if settings.default_lang not in ("zh", "en"):
        raise ConfigError(f"KB_DEFAULT_LANG must be zh or en, got {settings.default_lang!r}")
    if settings.ticket_id_case not in TICKET_ID_CASES:
        raise ConfigError(f"KB_TICKET_ID_CASE must be insensitive or sensitive, got {settings.ticket_id_case!r}")
    if settings.notify_format not in NOTIFY_FORMATS:
        raise ConfigError(f"KB_NOTIFY_FORMAT must be one of {', '.join(NOTIFY_FORMATS)}, "
                          f"got {settings.notify_format!r}")
    return settings

"""The application factory: `gunicorn 'web.app:create_app()'` or `kb serve`."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from flask import Flask

from kb.config import Settings, check_secrets, load_settings
from kb.errors import ConfigError
from web import (
    api,
    articles,
    browse,
    catalog,
    changes,
    chat,
    errors,
    home,
    i18n,
    meta,
    onboarding,
    operations,
    publishing,
    records,
    search_pages,
    security,
    templating,
)
from web.settings import SETTINGS_KEY

log = logging.getLogger(__name__)
SETTING_NAMES = frozenset(f.name for f in fields(Settings))


def _settings(test_config: Mapping[str, Any]) -> Settings:
    """KB_ environment variables, then test overrides named like settings (ARTICLES_DIR=...)."""
    given = test_config.get(SETTINGS_KEY)
    if isinstance(given, Settings):
        return given
    overrides = {name: test_config.get(name.upper()) for name in SETTING_NAMES}
    return load_settings(**overrides)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the site: settings from KB_ variables (then `test_config`), features as blueprints."""
    test_config = test_config or {}
    app = Flask(__name__)
    settings = _settings(test_config)
    check_secrets(settings)
    try:
        security.parse_proxy_ips(settings.proxy_ips)
    except ValueError as exc:
        raise ConfigError(f"KB_PROXY_IPS must be comma-separated addresses or networks: {exc}") from None
    secret = settings.secret_key
    if not secret:
        # Fine for one process; several gunicorn workers need one shared KB_SECRET_KEY.
        secret = secrets.token_hex(32)
        log.info("KB_SECRET_KEY is not set: using a random key (forms break across several workers)")
    app.config.from_mapping(
        SECRET_KEY=secret,  # KB_TRUSTED_HOSTS is checked by web.security (health routes answer any host)
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    app.config[SETTINGS_KEY] = settings
    app.config.update({k: v for k, v in test_config.items() if k.isupper() and k.lower() not in SETTING_NAMES})
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    operations.init_app(app)
    catalog.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    for blueprint in (home.bp, search_pages.bp, articles.bp, browse.bp, onboarding.bp, changes.bp, api.bp, meta.bp):
        app.register_blueprint(blueprint)
    records.init_app(app)
    chat.init_app(app)
    publishing.init_app(app)
    return app

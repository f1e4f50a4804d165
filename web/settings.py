"""The app's kb Settings, read through one accessor."""

from __future__ import annotations

from flask import current_app

from kb.config import Settings

SETTINGS_KEY = "KB_SETTINGS"


def get_settings() -> Settings:
    """The Settings the current app was created with."""
    settings: Settings = current_app.config[SETTINGS_KEY]
    return settings

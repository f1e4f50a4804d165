"""Settings: defaults, KB_ environment variables, then explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.config import load_settings
from kb.errors import ConfigError


def test_defaults_without_environment() -> None:
    settings = load_settings({})
    assert settings.articles_dir == Path("articles")
    assert settings.port == 8080
    assert settings.vocabulary_dir == Path("articles/_kb")


def test_environment_overrides_defaults_and_flags_override_environment() -> None:
    env = {"KB_ARTICLES_DIR": "/srv/articles", "KB_PORT": "9000", "KB_DEFAULT_LANG": "zh"}
    settings = load_settings(env)
    assert (settings.articles_dir, settings.port, settings.default_lang) == (Path("/srv/articles"), 9000, "zh")
    assert load_settings(env, articles_dir="/other", index_dir=None).articles_dir == Path("/other")


@pytest.mark.parametrize(("env", "needle"), [
    ({"KB_PORT": "eighty"}, "KB_PORT must be a whole number"),
    ({"KB_DEFAULT_LANG": "fr"}, "KB_DEFAULT_LANG must be zh or en"),
])
def test_bad_values_are_clear_errors(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_settings(env)


@pytest.mark.parametrize("command", [["check"], ["build"], ["search", "vpn"], ["serve"], ["sync"], ["stats"],
                                     ["link", "a", "T-1", "--category", "x"], ["export"], ["db", "upgrade"],
                                     ["new", "A title"]])
def test_a_bad_setting_exits_2_with_one_error_format_from_every_command(command: list[str], tmp_path: Path) -> None:
    # One boundary (kbcli.options.KbCommand) maps KbError.exit_code: configuration errors exit 2.
    from click.testing import CliRunner

    from kbcli.main import cli

    result = CliRunner().invoke(cli, command, env={"KB_PORT": "abc", "KB_INDEX_DIR": str(tmp_path / "i"),
                                                   "KB_ARTICLES_DIR": str(tmp_path / "a")})
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "kb: error: KB_PORT must be a whole number, got 'abc'"
    assert "Traceback" not in result.output

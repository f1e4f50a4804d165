"""Broken pushes and the weekly review-due list reach KB_NOTIFY_WEBHOOK once, from `kb sync` and `kb notify`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.config import Settings
from kbcli.main import cli
from tests.helpers import Receiver
from tests.test_sync_fixtures import Writer

pytest_plugins = ("tests.test_sync_fixtures",)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def sync_env(origin: Path, tmp_path: Path, receiver: Receiver) -> dict[str, str]:
    return {"KB_SYNC_REMOTE": str(origin), "KB_SYNC_BRANCH": "main", "KB_NOTIFY_WEBHOOK": receiver.url,
            "KB_DATABASE_URL": f"sqlite:///{tmp_path / 'records.db'}", "KB_SITE_URL": "https://kb.example.com"}


def test_a_broken_push_is_told_once_with_its_author(node: Settings, writer: Writer, origin: Path, tmp_path: Path,
                                                    receiver: Receiver) -> None:
    env = sync_env(origin, tmp_path, receiver)
    runner = CliRunner()
    machine = ["sync", "--articles", str(node.articles_dir), "--index", str(node.index_dir)]
    other = ["sync", "--articles", str(tmp_path / "b" / "articles"), "--index", str(tmp_path / "b" / "index")]
    assert runner.invoke(cli, machine, env=env).exit_code == 0
    assert receiver.received == []  # a good push says nothing
    writer.write("en/new-broken.md", "---\nid: new-broken\ntitle: Broken new\ntype: nonsense\n---\nBody\n")
    commit = writer.push("broken", author="Careless Writer")
    assert runner.invoke(cli, machine, env=env).exit_code == 0
    assert runner.invoke(cli, other, env=env).exit_code == 0  # a second machine syncs the same push
    [told] = receiver.received
    assert told["event"] == "push-failed" and told["data"]["commit"] == commit
    assert told["data"]["authors"] == ["Careless Writer"] and told["url"] == "https://kb.example.com/status"
    assert "en/new-broken.md" in told["text"] and "(Careless Writer)" in told["text"]


def test_the_review_due_list_goes_out_once_a_week(node: Settings, writer: Writer, origin: Path, tmp_path: Path,
                                                  receiver: Receiver) -> None:
    writer.write("en/old-steps.md", "---\nid: old-steps\ntitle: Old steps\ntype: howto\nstate: validated\nlang: en\n"
                 "categories: [network]\nowner: desk\nreviewed: 2020-01-01\nreview_every: 30\n---\nSteps.\n")
    writer.push("an old article")
    env = sync_env(origin, tmp_path, receiver)
    runner = CliRunner()
    assert runner.invoke(cli, ["sync", "--articles", str(node.articles_dir), "--index", str(node.index_dir)],
                         env=env).exit_code == 0
    args = ["notify", "review-due", "--articles", str(node.articles_dir), "--index", str(node.index_dir)]
    first = runner.invoke(cli, args, env=env)
    assert first.exit_code == 0 and "review-due list sent" in first.output
    second = runner.invoke(cli, args, env=env)
    assert second.exit_code == 0 and "nothing sent" in second.output
    [told] = receiver.received
    assert told["event"] == "review-due" and "desk: Old steps (old-steps)" in told["text"]
    assert told["data"]["owners"] == {"desk": 1}
    again = runner.invoke(cli, [*args, "--force"], env=env)
    assert again.exit_code == 0 and len(receiver.received) == 2
    off = runner.invoke(cli, args, env={**env, "KB_NOTIFY_WEBHOOK": ""})
    assert off.exit_code == 1 and "KB_NOTIFY_WEBHOOK is not set" in off.output

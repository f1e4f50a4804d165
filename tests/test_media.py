"""Images and attachments beside articles: checked by `kb check`, copied by the build, served by the site."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from kb.config import Settings, load_settings
from kbcli.main import cli
from search.build import build_index, current_build
from search.media import MEDIA_DIR, MEDIA_MANIFEST
from search.sync import sync
from tests.conftest import ArticleWriter, dedent
from tests.media_files import pdf_bytes, png_bytes
from tests.test_sync_fixtures import Writer
from web.app import create_app
from web.security import CONTENT_SECURITY_POLICY

pytest_plugins = ("tests.test_sync_fixtures",)

FRONT = """\
    ---
    id: {id}
    title: "{title}"
    summary: "A screenshot article."
    type: howto
    state: validated
    lang: en
    ---
    """


def write_screenshot_article(articles_dir: Path, write_article: ArticleWriter, body: str,
                             id: str = "vpn-settings", title: str = "VPN settings") -> Path:
    return write_article(f"en/network/{id}.md", dedent(FRONT.format(id=id, title=title)) + dedent(body))


def check(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["check", "--articles", str(root), *args])
    return result.exit_code, result.stdout


def fetch(client: FlaskClient, url: str, **headers: str) -> TestResponse:
    """GET a URL and read the whole answer (file answers hold the file open until closed)."""
    response = client.get(url, headers=headers)
    response.get_data()
    response.close()
    return response


def settings_for(articles_dir: Path, tmp_path: Path, **overrides: object) -> Settings:
    return load_settings(environ={}, articles_dir=articles_dir, index_dir=tmp_path / "index",
                         database_url=f"sqlite:///{tmp_path / 'records.db'}",
                             secret_key="media-test-secret-key-0123456789", **overrides)


def test_an_image_and_a_pdf_beside_the_article_pass_the_check(articles_dir: Path,
                                                               write_article: ArticleWriter) -> None:
    write_screenshot_article(articles_dir, write_article, """\
        Open the settings:

        ![The VPN settings dialog](vpn-settings.png)

        Fill in [the request form](forms/vpn-request.pdf) and the [shared logo](/_media/logo.png).
        """)
    (articles_dir / "en/network/vpn-settings.png").write_bytes(png_bytes())
    (articles_dir / "en/network/forms").mkdir()
    (articles_dir / "en/network/forms/vpn-request.pdf").write_bytes(pdf_bytes())
    (articles_dir / "_media").mkdir()
    (articles_dir / "_media/logo.png").write_bytes(png_bytes(20, 20))
    code, out = check(articles_dir)
    assert code == 0, out
    assert "vpn-settings" not in out


def test_missing_unknown_and_oversized_files_are_reported_at_line_and_column(
        articles_dir: Path, write_article: ArticleWriter) -> None:
    write_screenshot_article(articles_dir, write_article, """\
        Intro.

        See ![missing shot](missing.png) here.
        Run [the script](fix.exe) or read ![big](big.png)
        ![](no-alt.png)
        """)
    (articles_dir / "en/network/fix.exe").write_bytes(b"MZ")
    (articles_dir / "en/network/big.png").write_bytes(png_bytes(800, 800) + b"\0" * 3000)
    (articles_dir / "en/network/no-alt.png").write_bytes(png_bytes())
    result = CliRunner().invoke(cli, ["check", "--articles", str(articles_dir)], env={"KB_MAX_MEDIA_BYTES": "2000"})
    out = result.stdout
    assert result.exit_code == 1
    lines = out.splitlines()
    # The body starts on line 9: "See ![missing shot](missing.png)" is line 11, the target at column 21.
    assert "en/network/vpn-settings.md:11:21: error: broken image 'missing.png': no such file" in out
    assert any(line.startswith("en/network/vpn-settings.md:12:18: error: broken link 'fix.exe'")
               and "type the site does not serve (.exe)" in line for line in lines), out
    assert any(line.startswith("en/network/vpn-settings.md:12:42: error: broken image 'big.png'")
               and "the limit is 2,000" in line for line in lines), out
    assert "en/network/vpn-settings.md:13:5: warning: image 'no-alt.png' has no alt text" in out


def test_an_image_on_another_site_is_a_warning(articles_dir: Path, write_article: ArticleWriter) -> None:
    write_screenshot_article(articles_dir, write_article, "Intro.\n\n![Settings](https://cdn.example.com/shot.png)\n")
    code, out = check(articles_dir)
    assert code == 0
    assert "en/network/vpn-settings.md:11:13: warning: image 'https://cdn.example.com/shot.png' is on another " \
           "site" in out


def test_a_link_leaving_the_articles_folder_is_refused(articles_dir: Path, write_article: ArticleWriter,
                                                        tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(png_bytes())
    write_screenshot_article(articles_dir, write_article, "![x](../../../secret.png)\n")
    code, out = check(articles_dir)
    assert code == 1
    assert "outside the articles folder" in out


def test_check_reports_front_matter_and_link_errors_in_one_run(articles_dir: Path,
                                                               write_article: ArticleWriter) -> None:
    write_article("en/two-faults.md", """\
        ---
        id: two-faults
        title: "Two faults"
        state: finished
        lang: en
        ---
        Read [the other article](kb:no-such-article) first.
        """)
    code, out = check(articles_dir)
    assert code == 1
    assert "en/two-faults.md:4:1: error: state:" in out
    assert "en/two-faults.md:7:26: error: broken link to 'kb:no-such-article': no such article" in out


def test_the_build_copies_media_and_the_site_serves_them(articles_dir: Path, write_article: ArticleWriter,
                                                         tmp_path: Path) -> None:
    write_screenshot_article(articles_dir, write_article, """\
        ![The VPN settings dialog](vpn-settings.png)

        [Request form](vpn-request.pdf) and [log](client.log) and [the tools](tools.zip).
        """)
    shot = png_bytes()
    (articles_dir / "en/network/vpn-settings.png").write_bytes(shot)
    (articles_dir / "en/network/vpn-request.pdf").write_bytes(pdf_bytes())
    (articles_dir / "en/network/client.log").write_text("<script>alert(1)</script>\n", encoding="utf-8")
    (articles_dir / "en/network/tools.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (articles_dir / "en/network/unused.png").write_bytes(png_bytes(10, 10))
    settings = settings_for(articles_dir, tmp_path)
    report = build_index(settings)
    assert not report.errors
    build = current_build(settings.index_dir)
    assert build is not None and (build / MEDIA_MANIFEST).is_file()
    assert len(list((build / MEDIA_DIR).iterdir())) == 4  # the unused file is not published

    client: FlaskClient = create_app({"KB_SETTINGS": settings, "TESTING": True}).test_client()
    page = client.get("/articles/vpn-settings").get_data(as_text=True)
    src = re.search(r'<img alt="The VPN settings dialog" src="(/media/[0-9a-f]+/vpn-settings\.png)"', page)
    assert src, page
    image = fetch(client, src.group(1))
    assert image.status_code == 200 and image.data == shot
    assert image.mimetype == "image/png"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in image.headers["Cache-Control"] and "max-age=31536000" in image.headers["Cache-Control"]
    assert image.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert fetch(client, src.group(1), **{"If-None-Match": image.headers["ETag"]}).status_code == 304

    pdf = re.search(r'href="(/media/[0-9a-f]+/vpn-request\.pdf)"', page)
    assert pdf
    answer = fetch(client, pdf.group(1))
    assert answer.mimetype == "application/pdf" and answer.data.startswith(b"%PDF")
    log = re.search(r'href="(/media/[0-9a-f]+/client\.log)"', page)
    assert log
    text = fetch(client, log.group(1))
    assert text.mimetype == "text/plain" and text.headers["X-Content-Type-Options"] == "nosniff"
    with client.head(src.group(1)) as head:
        assert head.headers["Content-Length"] == str(len(shot)) and head.data == b""

    archive = re.search(r'href="(/media/[0-9a-f]+/tools\.zip)"', page)
    assert archive
    download = fetch(client, archive.group(1))
    assert download.mimetype == "application/zip" and download.headers["Content-Disposition"].startswith("attachment")

    digest = src.group(1).split("/")[2]
    for bad in (f"/media/{digest}/other.png", "/media/../../etc/passwd", f"/media/{digest}/..%2f..%2fetc%2fpasswd",
                "/media/0123456789abcdef0123/vpn-settings.png", "/media/zz/vpn-settings.png",
                f"/media/{digest}/vpn-settings.png/../../manifest.json"):
        assert fetch(client, bad).status_code == 404, bad


def test_a_changed_screenshot_gets_a_new_url_after_an_incremental_build(
        articles_dir: Path, write_article: ArticleWriter, tmp_path: Path) -> None:
    write_screenshot_article(articles_dir, write_article, "![Dialog](shot.png)\n")
    (articles_dir / "en/network/shot.png").write_bytes(png_bytes(rgb=(200, 0, 0)))
    settings = settings_for(articles_dir, tmp_path)
    build_index(settings)
    client = create_app({"KB_SETTINGS": settings, "TESTING": True}).test_client()
    first = re.findall(r'src="(/media/[^"]+)"', client.get("/articles/vpn-settings").get_data(as_text=True))
    (articles_dir / "en/network/shot.png").write_bytes(png_bytes(rgb=(0, 200, 0)))
    report = build_index(settings)
    assert report.mode == "incremental" and report.changed == 1
    second = re.findall(r'src="(/media/[^"]+)"', client.get("/articles/vpn-settings").get_data(as_text=True))
    assert first and second and first != second
    assert fetch(client, second[0]).data == png_bytes(rgb=(0, 200, 0))
    assert fetch(client, first[0]).status_code == 404  # only the live build's files are served


def test_kb_sync_publishes_a_pushed_screenshot(node: Settings, writer: Writer) -> None:
    writer.write("en/shots.md", "---\nid: shots\ntitle: Shots\nsummary: s\ntype: howto\nstate: validated\n"
                                "lang: en\n---\n![The dialog](img/dialog.png)\n")
    (writer.root / "en/img").mkdir(parents=True)
    (writer.root / "en/img/dialog.png").write_bytes(png_bytes())
    writer.push("add a screenshot")
    result = sync(node)
    assert result.outcome == "synced", result
    client = create_app({"KB_SETTINGS": node, "TESTING": True}).test_client()
    src = re.findall(r'src="(/media/[^"]+)"', client.get("/articles/shots").get_data(as_text=True))
    assert src and fetch(client, src[0]).data == png_bytes()


def test_a_screenshot_with_a_chinese_name_and_spaces_is_served(articles_dir: Path, write_article: ArticleWriter,
                                                                tmp_path: Path) -> None:
    write_screenshot_article(articles_dir, write_article, "![VPN 设置](截图%20VPN%20设置.png)\n")
    (articles_dir / "en/network/截图 VPN 设置.png").write_bytes(png_bytes())
    settings = settings_for(articles_dir, tmp_path)
    assert not build_index(settings).errors
    client = create_app({"KB_SETTINGS": settings, "TESTING": True}).test_client()
    src = re.findall(r'src="(/media/[^"]+)"', client.get("/articles/vpn-settings").get_data(as_text=True))
    assert src and src[0].endswith("/%E6%88%AA%E5%9B%BE%20VPN%20%E8%AE%BE%E7%BD%AE.png")
    image = fetch(client, src[0])
    assert image.status_code == 200 and image.data == png_bytes()
    disposition = image.headers["Content-Disposition"]
    assert disposition.startswith("inline") and "%E6%88%AA%E5%9B%BE" in disposition  # shown, named as written

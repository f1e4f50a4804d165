"""Images and attachments that articles link to: which files are allowed, and where the site serves them.

A writer puts `vpn-settings.png` beside the article (or in the shared `_media/` folder at the
top of the articles folder) and writes `![VPN settings](vpn-settings.png)` or
`[the form](forms/request.pdf)`. The loader finds each referenced file here, checks its type and
size, and gives it a content-addressed URL (`/media/<digest>/<name>`), so a changed file gets a
new URL and the site can tell browsers to cache every file for a year. The build copies the
files into the index build (search/media.py); the site serves them from there, never from the
checkout. Media bytes are hashed and copied, never parsed or rendered.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

MEDIA_URL_PREFIX = "/media/"
SHARED_MEDIA_DIR = "_media"
"""A folder at the top of the articles folder for files several articles use."""

# What a support article embeds or attaches, by file extension, with the type the site sends.
# No HTML, JavaScript or executables: the site would serve them from its own origin.
MEDIA_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".zip": "application/zip",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
}
IMAGE_SUFFIXES = frozenset(s for s, t in MEDIA_TYPES.items() if t.startswith("image/"))
# Shown in the page, not downloaded: images, PDFs, plain text and video.
INLINE_SUFFIXES = IMAGE_SUFFIXES | {".pdf", ".txt", ".log", ".mp4", ".webm"}
DIGEST_CHARS = 20
DIGEST = re.compile(rf"[0-9a-f]{{{DIGEST_CHARS}}}")
_CHUNK = 1 << 20


def media_suffix(path: str) -> str:
    """The lower-case extension of a link target's path (no fragment or query)."""
    return posixpath.splitext(path.partition("#")[0].partition("?")[0])[1].lower()


def is_media_target(joined_target: str) -> bool:
    """Whether a link target, joined to the articles root, names a file rather than an article."""
    if joined_target.startswith("kb:"):
        return False
    suffix = media_suffix(joined_target)
    return bool(suffix) and suffix != ".md"


@dataclass(frozen=True)
class MediaFile:
    """One file an article links to, as the build copies it and the site serves it."""

    path: str  # relative to the articles folder, forward slashes
    digest: str  # first DIGEST_CHARS hex digits of its SHA-256
    size: int

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def content_type(self) -> str:
        return MEDIA_TYPES[media_suffix(self.path)]

    @property
    def url(self) -> str:
        return MEDIA_URL_PREFIX + self.digest + "/" + quote(self.name)

    @property
    def inline(self) -> bool:
        return media_suffix(self.path) in INLINE_SUFFIXES


class MediaProblem(ValueError):
    """Why a link target cannot be served as media; the message is shown to the writer."""


def _inside(root: Path, rel: str) -> Path | None:
    """The file for a path relative to root, if it stays inside root without following links."""
    if not rel or rel.startswith(("/", "../")) or rel == ".." or "\0" in rel:
        return None
    current = root
    for part in rel.split("/"):
        if part in ("", ".", ".."):
            return None
        current = current / part
        if current.is_symlink():
            return None
    return current


class MediaIndex:
    """The media files of one articles folder, found on demand and hashed once each."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._found: dict[str, MediaFile | MediaProblem] = {}

    def lookup(self, rel: str) -> MediaFile:
        """The media file at `rel` (relative to the articles folder); raises MediaProblem."""
        rel = posixpath.normpath(rel) if rel else rel
        found = self._found.get(rel)
        if found is None:
            try:
                found = self._read(rel)
            except MediaProblem as exc:
                found = exc
            self._found[rel] = found
        if isinstance(found, MediaProblem):
            raise found
        return found

    def _read(self, rel: str) -> MediaFile:
        suffix = media_suffix(rel)
        if suffix not in MEDIA_TYPES:
            allowed = ", ".join(sorted(MEDIA_TYPES))
            raise MediaProblem(f"{posixpath.basename(rel)!r} has a type the site does not serve ({suffix or 'none'}); "
                               f"allowed: {allowed}")
        file = _inside(self.root, rel)
        if file is None:
            raise MediaProblem(f"{rel!r} is outside the articles folder or behind a symbolic link")
        try:
            info = os.stat(file, follow_symlinks=False)
        except OSError:
            raise MediaProblem(f"no such file {rel!r}") from None
        if not stat.S_ISREG(info.st_mode):
            raise MediaProblem(f"{rel!r} is not a regular file")
        if info.st_size > self.max_bytes:
            raise MediaProblem(f"{rel!r} is {info.st_size:,} bytes; the limit is {self.max_bytes:,} "
                               "(KB_MAX_MEDIA_BYTES): make the screenshot smaller or link to the file elsewhere")
        sha = hashlib.sha256()
        with open(file, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                sha.update(chunk)
        return MediaFile(rel, sha.hexdigest()[:DIGEST_CHARS], info.st_size)

    def files(self) -> dict[str, MediaFile]:
        """Every media file found so far, by digest."""
        return {m.digest: m for m in self._found.values() if isinstance(m, MediaFile)}

"""The media stage of a build: images and attachments copied into the build folder.

    builds/X/media/<digest>   the file's bytes, named by its content digest (kb.media)
    builds/X/media.json       digest -> {name, type, size, inline}

The site serves only what is listed in media.json, from the live build, so a request never
names a path in the checkout. Files unchanged since the live build are hard-linked from it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kb.files import read_json_object, write_json
from kb.media import DIGEST, MediaFile

MEDIA_DIR = "media"
MEDIA_MANIFEST = "media.json"


@dataclass(frozen=True)
class StoredMedia:
    """One file of a build's media, as the site sends it."""

    digest: str
    name: str
    content_type: str
    size: int
    inline: bool
    file: Path


def write_media(build_dir: Path, root: Path, files: dict[str, MediaFile], live: Path | None) -> int:
    """Copy (or hard-link from the live build) every media file into `build_dir`; return how many."""
    target = build_dir / MEDIA_DIR
    target.mkdir(exist_ok=True)
    manifest: dict[str, dict[str, object]] = {}
    for digest, media in sorted(files.items()):
        dest = target / digest
        previous = live / MEDIA_DIR / digest if live is not None else None
        if previous is not None and previous.is_file() and not previous.is_symlink():
            try:
                os.link(previous, dest)
            except OSError:
                shutil.copyfile(previous, dest)
        else:
            shutil.copyfile(root / media.path, dest, follow_symlinks=False)
        manifest[digest] = {"name": media.name, "type": media.content_type, "size": media.size,
                            "inline": media.inline, "path": media.path}
    write_json(build_dir / MEDIA_MANIFEST, manifest, indent=None)
    return len(manifest)


class MediaShelf:
    """The media of one build, read once: what the site looks a request's digest up in."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir
        self._entries = read_json_object(build_dir / MEDIA_MANIFEST) or {}

    def find(self, digest: str, name: str) -> StoredMedia | None:
        """The stored file for a URL's digest and file name, or None: only listed digests reach the disk."""
        if not DIGEST.fullmatch(digest):
            return None
        entry = self._entries.get(digest)
        if not isinstance(entry, dict) or entry.get("name") != name:
            return None
        return StoredMedia(digest, str(entry["name"]), str(entry["type"]), int(entry["size"]),
                           bool(entry.get("inline")), self.build_dir / MEDIA_DIR / digest)

    def __len__(self) -> int:
        return len(self._entries)

"""How kb writes and reads Whoosh's files: Whoosh 3's codec without per-posting length
statistics, and segment files read through the memory map instead of copied into memory.

W3's writer looks up the length of the field in every posting's article (a Python call
into a column reader per posting: a tenth of a full build) to store each block's shortest
and longest field, which only Whoosh's own block-skipping matchers read. kb scores from its
own posting arrays and the length columns (search/postings.py, search/scoring.py), which
are written as before. The class is pickled into each segment's table of contents, so its
import path (search.codec.KbCodec) must stay stable.

Whoosh memory-maps each compound segment file, but then hands every file inside it out as a
BufferFile whose reads go through `BytesIO(buffer)`, a private copy: at 10,000 real-text
articles, 80 MB of postings and 12 MB of term index copied into every process that opens the
index. SegmentFile reads the same bytes with os.pread from the segment's file instead: nothing
is copied up front, the bytes live once in the kernel's page cache for every process, and none
of it counts as a process's own memory (a page read through a map would, in a process that is
alone in mapping it). pread needs no shared file position, so processes forked with the file
open (gunicorn's warmed master, deploy/gunicorn.conf.py) read it safely. Installed when this
module is imported (search.build and search.index import it); it relies on whoosh-reloaded
2.7.5's compound storage, pinned in pyproject.toml.
"""

from __future__ import annotations

import io
import os
import weakref
from typing import Any

from whoosh.codec.whoosh3 import W3Codec
from whoosh.filedb import compound
from whoosh.filedb.filestore import StorageError
from whoosh.filedb.structfile import BufferFile


class KbCodec(W3Codec):  # type: ignore[misc]
    """W3Codec with blocks that carry no field-length statistics."""

    length_stats = False


_LINE_CHUNK = 256


class _PreadReader(io.RawIOBase):
    """A read-only, seekable file over `length` bytes at `offset` of a file descriptor (os.pread)."""

    def __init__(self, storage: Any, offset: int, length: int) -> None:
        super().__init__()
        # The storage, not just its descriptor: it stays open while a file of it is in use, and a
        # closed one is noticed (a descriptor number could be reused by another file).
        self._storage, self._fd = storage, storage._kb_fd
        self._offset, self._length = offset, length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def pread(self, position: int, size: int) -> bytes:
        """`size` bytes from `position` (fewer at the end), without moving."""
        if self._storage.is_closed:
            raise ValueError(f"read from a closed index segment ({self._storage})")
        size = max(0, min(size, self._length - position))
        return os.pread(self._fd, size, self._offset + position) if size else b""

    def read(self, size: int | None = -1) -> bytes:
        data = self.pread(self._position, self._length - self._position if size is None or size < 0 else size)
        self._position += len(data)
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[:len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        limit = self._length if size is None or size < 0 else min(self._length, self._position + size)
        end = self._position
        while end < limit:  # look for the newline a chunk at a time (only pickle headers use this)
            chunk = self.pread(end, min(_LINE_CHUNK, limit - end))
            found = chunk.find(b"\n")
            if found >= 0:
                end += found + 1
                break
            end += len(chunk)
        return self.read(end - self._position)


class SegmentFile(BufferFile):  # type: ignore[misc]
    """Whoosh's BufferFile for one file inside a compound segment, read with os.pread."""

    def __init__(self, storage: Any, offset: int, length: int, name: str | None = None) -> None:
        super().__init__(b"", name=name)
        self._storage, self._offset = storage, offset
        self.file = _PreadReader(storage, offset, length)

    def subset(self, position: int, length: int, name: str | None = None) -> SegmentFile:
        return SegmentFile(self._storage, self._offset + position, length, name=name or self._name)

    def get(self, position: int, length: int) -> bytes:
        data: bytes = self.file.pread(position, length)
        return data


def _open_file(storage: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """CompoundStorage.open_file, reading with pread (see the module docstring)."""
    if storage.is_closed:
        raise StorageError("Storage was closed")
    offset, length = storage.range(name)
    return SegmentFile(storage, offset, length, name=name)


_whoosh_init = compound.CompoundStorage.__init__


def _init(storage: Any, dbfile: Any, *args: Any, **kwargs: Any) -> None:
    """CompoundStorage.__init__, keeping a descriptor of the segment file for pread (Whoosh closes
    its file once mapped); the descriptor is closed with the storage, or when it is collected."""
    fd = os.dup(dbfile.fileno())
    storage._kb_fd = fd
    storage._kb_closer = weakref.finalize(storage, os.close, fd)
    _whoosh_init(storage, dbfile, *args, **kwargs)


_whoosh_close = compound.CompoundStorage.close


def _close(storage: Any) -> None:
    _whoosh_close(storage)
    storage._kb_closer()


compound.CompoundStorage.__init__ = _init
compound.CompoundStorage.close = _close
compound.CompoundStorage.open_file = _open_file

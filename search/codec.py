"""The Whoosh codec kb writes its index with: Whoosh 3's, without per-posting length statistics.

W3's writer looks up the length of the field in every posting's article (a Python call
into a column reader per posting: a tenth of a full build) to store each block's shortest
and longest field, which only Whoosh's own block-skipping matchers read. kb scores from its
own posting arrays and the length columns (search/postings.py, search/scoring.py), which
are written as before. The class is pickled into each segment's table of contents, so its
import path (search.codec.KbCodec) must stay stable.
"""

from __future__ import annotations

from whoosh.codec.whoosh3 import W3Codec


class KbCodec(W3Codec):  # type: ignore[misc]
    """W3Codec with blocks that carry no field-length statistics."""

    length_stats = False

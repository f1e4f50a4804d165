"""Search: the Whoosh index of the articles, its builds, and queries.

Only this package imports Whoosh; callers get plain dataclasses. Names are imported on
first use, so that `kb build` does not pay for the query side (numpy) at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from search.build import BuildReport, build_index, read_manifest
    from search.errors import BuildError, BuildLockedError, IndexMissingError, QueryError, SearchError
    from search.index import IndexHandle, open_index
    from search.results import ArticleView, Facet, FacetValue, Hit, SearchRequest, SearchResult
    from search.service import SearchService

__all__ = [
    "ArticleView",
    "BuildError",
    "BuildLockedError",
    "BuildReport",
    "Facet",
    "FacetValue",
    "Hit",
    "IndexHandle",
    "IndexMissingError",
    "QueryError",
    "SearchError",
    "SearchRequest",
    "SearchResult",
    "SearchService",
    "build_index",
    "open_index",
    "read_manifest",
]

_MODULE_OF = {
    "BuildReport": "build", "build_index": "build", "read_manifest": "build",
    "BuildError": "errors", "BuildLockedError": "errors", "IndexMissingError": "errors", "QueryError": "errors",
    "SearchError": "errors",
    "IndexHandle": "index", "open_index": "index",
    "ArticleView": "results", "Facet": "results", "FacetValue": "results", "Hit": "results",
    "SearchRequest": "results", "SearchResult": "results",
    "SearchService": "service",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'search' has no attribute {name!r}")
    return getattr(importlib.import_module(f"search.{module}"), name)

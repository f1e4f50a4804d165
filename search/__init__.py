"""Search: the Whoosh index of the articles, its builds, and queries.

Only this package imports Whoosh; callers get plain dataclasses.
"""

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

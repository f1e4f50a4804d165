"""kb: the knowledge base core — articles, front-matter schema, loading, rendering, records."""

__version__ = "0.1.0"

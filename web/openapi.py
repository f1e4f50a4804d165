"""The OpenAPI 3.1 document for /api (tests validate real responses against these schemas)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from search.results import DEFAULT_LIMIT, FILTERS, MAX_LIMIT

EXTENSION_KEY = "kb_openapi"  # what features registered: (paths, schemas, security schemes)

STRINGS = {"type": "array", "items": {"type": "string"}}
NULLABLE_STRING = {"type": ["string", "null"]}

HIT = {
    "type": "object",
    "required": ["id", "title", "path", "score", "snippet", "categories", "tags", "lang", "state", "section",
                 "translations"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "path": {"type": "string", "description": "Source file relative to the articles folder."},
        "score": {"type": "number"},
        "snippet": {"type": "string", "description": "HTML-escaped text with <mark> around matches."},
        "categories": STRINGS,
        "tags": STRINGS,
        "lang": {"type": "string", "enum": ["zh", "en"]},
        "state": {"type": "string"},
        "section": {"type": ["object", "null"], "description": "The best-matching section: its heading and anchor.",
                    "properties": {"heading": {"type": "string"}, "anchor": {"type": "string"}}},
        "translations": {"type": "array", "description": "The same article in other languages, folded into this hit.",
                         "items": {"type": "object", "properties": {"id": {"type": "string"},
                                                                    "lang": {"type": "string"},
                                                                    "title": {"type": "string"}}}},
    },
}
FACET_VALUE = {"type": "object", "required": ["value", "count"],
               "properties": {"value": {"type": "string"}, "count": {"type": "integer"}}}
SEARCH_RESULT = {
    "type": "object",
    "required": ["query", "total", "took_ms", "hits", "facets", "did_you_mean", "showing_results_for",
                 "search_instead_for", "notice"],
    "properties": {
        "query": {"type": "string"},
        "total": {"type": "integer"},
        "took_ms": {"type": "number"},
        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        "facets": {"type": "object", "additionalProperties": {"type": "array",
                                                               "items": {"$ref": "#/components/schemas/FacetValue"}}},
        "did_you_mean": NULLABLE_STRING,
        "showing_results_for": NULLABLE_STRING,
        "search_instead_for": NULLABLE_STRING,
        "notice": NULLABLE_STRING,
    },
}
ARTICLE = {
    "type": "object",
    "required": ["id", "title", "path", "url", "lang", "type", "state", "summary", "categories", "tags", "products",
                 "errors", "owner", "translation_of", "reviewed", "review_due", "updated", "updated_by", "aliases",
                 "related", "toc", "html"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "path": {"type": "string"},
        "url": {"type": "string"},
        "lang": {"type": "string"},
        "type": {"type": "string"},
        "state": {"type": "string"},
        "summary": {"type": "string"},
        "categories": STRINGS,
        "tags": STRINGS,
        "products": STRINGS,
        "errors": STRINGS,
        "owner": {"type": "string"},
        "translation_of": NULLABLE_STRING,
        "reviewed": NULLABLE_STRING,
        "review_due": NULLABLE_STRING,
        "updated": NULLABLE_STRING,
        "updated_by": NULLABLE_STRING,
        "aliases": STRINGS,
        "related": STRINGS,
        "toc": {"type": "array", "items": {"type": "object", "required": ["level", "text", "anchor"], "properties": {
            "level": {"type": "integer"}, "text": {"type": "string"}, "anchor": {"type": "string"}}}},
        "html": {"type": "string", "description": "Rendered, sanitized body."},
    },
}
CATEGORIES = {
    "type": "object",
    "required": ["categories"],
    "properties": {"categories": {"type": "array", "items": {
        "type": "object", "required": ["slug", "parent", "zh", "en", "count", "url"],
        "properties": {"slug": {"type": "string"}, "parent": NULLABLE_STRING, "zh": {"type": "string"},
                       "en": {"type": "string"}, "count": {"type": "integer"}, "url": {"type": "string"}}}}},
}
SUGGESTIONS = {
    "type": "object",
    "required": ["subject", "category", "hits"],
    "properties": {"subject": {"type": "string"}, "category": NULLABLE_STRING,
                   "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}},
}
COMPLETIONS = {
    "type": "object",
    "required": ["query", "completions", "search_url"],
    "properties": {
        "query": {"type": "string"},
        "search_url": {"type": "string", "description": "The search results page for what was typed."},
        "completions": {"type": "array", "items": {
            "type": "object", "required": ["kind", "text", "marks", "target", "lang", "url"],
            "properties": {
                "kind": {"type": "string", "enum": ["title", "error", "id", "product"]},
                "text": {"type": "string"},
                "marks": {"type": "array", "description": "[start, end) of each typed part in text, in characters.",
                          "items": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}},
                "target": {"type": "string", "description": "Article id, product id, or the error text."},
                "lang": {"type": "string"},
                "url": {"type": "string"}}}},
    },
}
ERROR = {"type": "object", "required": ["error", "message"],
         "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
SCHEMAS: dict[str, Any] = {"Hit": HIT, "FacetValue": FACET_VALUE, "SearchResult": SEARCH_RESULT, "Article": ARTICLE,
                           "Categories": CATEGORIES, "Suggestions": SUGGESTIONS, "Completions": COMPLETIONS,
                           "Error": ERROR}


def _param(name: str, description: str, kind: str = "string", required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": {"type": kind}}


def _json(ref: str, description: str) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


FILTER_PARAMS = [{"name": name, "in": "query", "required": False, "style": "form", "explode": True,
                  "description": f"Only articles with this {name} (repeat for any of several).",
                  "schema": {"type": "array", "items": {"type": "string"}}}
                 for name in FILTERS]
ERRORS = {"400": _json("Error", "Bad query or parameters."), "503": _json("Error", "No index is built yet.")}


def openapi_document(server: str) -> dict[str, Any]:
    """The document, with this server's base URL."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "kb API", "version": "1", "description": "Search and read the support knowledge base."},
        "servers": [{"url": server}],
        "paths": {
            "/api/search": {"get": {
                "summary": "Search articles (the same JSON as `kb search --json`).",
                "parameters": [_param("q", "The query: words, \"phrases\", -exclusion, field:value filters."),
                               _param("limit", f"Hits per page (1-{MAX_LIMIT}, default {DEFAULT_LIMIT}).", "integer"),
                               _param("page", "Page number, from 1.", "integer"),
                               _param("verbatim", "1: search misspelt words as typed, not as their correction."),
                               *FILTER_PARAMS],
                "responses": {"200": _json("SearchResult", "One page of results."), **ERRORS}}},
            "/api/complete": {"get": {
                "summary": "Titles, error codes, article ids and products starting with what the reader typed, "
                           "best first, the typed part marked; never spell-corrected.",
                "parameters": [_param("q", "The prefix typed so far (at most 200 characters).", required=True),
                               _param("limit", "How many completions (1-20, default 8).", "integer")],
                "responses": {"200": _json("Completions", "Best first."), **ERRORS}}},
            "/api/articles/{id}": {"get": {
                "summary": "An article's metadata and rendered HTML; an alias answers 301 to the current id.",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json("Article", "The article."), "301": {"description": "Moved (alias)."},
                              "404": _json("Error", "No such article."), "503": ERRORS["503"]}}},
            "/api/categories": {"get": {
                "summary": "Ticket categories with names in both languages and article counts.",
                "responses": {"200": _json("Categories", "Every category."), "503": ERRORS["503"]}}},
            "/api/suggest": {
                "get": {"summary": "Articles for a ticket's subject and description.",
                        "parameters": [_param("subject", "Ticket subject."),
                                       _param("description", "Ticket description."),
                                       _param("category", "Ticket category, e.g. network/vpn."),
                                       _param("limit", "How many articles (default 5).", "integer")],
                        "responses": {"200": _json("Suggestions", "Best articles first."), **ERRORS}},
                "post": {"summary": "The same, with a JSON body.",
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {
                             "type": "object", "properties": {"subject": {"type": "string"},
                                                              "description": {"type": "string"},
                                                              "category": {"type": "string"},
                                                              "limit": {"type": "integer"}}}}}},
                         "responses": {"200": _json("Suggestions", "Best articles first."), **ERRORS}}},
            "/api/openapi.json": {"get": {"summary": "This document.",
                                          "responses": {"200": {"description": "OpenAPI 3.1 document."}}}},
        },
        "components": {"schemas": SCHEMAS},
    }


def register(app: Flask, paths: dict[str, Any], schemas: dict[str, Any] | None = None,
             security: dict[str, Any] | None = None) -> None:
    """A feature adds its routes to /api/openapi.json (called from the feature's init_app)."""
    app.extensions.setdefault(EXTENSION_KEY, []).append((paths, schemas or {}, security or {}))


def app_document(app: Flask, server: str) -> dict[str, Any]:
    """The document with every route the app's features registered."""
    document = openapi_document(server)
    for paths, schemas, security in app.extensions.get(EXTENSION_KEY, []):
        document["paths"].update(paths)
        document["components"]["schemas"].update(schemas)
        if security:
            document["components"].setdefault("securitySchemes", {}).update(security)
    return document

"""Ticket records on the site: the JSON API for ticketing systems, the article-page form,
search and click logging, and the reports (HTML with SVG charts, JSON and CSV).

`init_app(app)` registers everything; nothing connects to the database until a request
needs it, so gunicorn can fork first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import html
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from kb.clock import utc_now
from kb.records.db import Database
from kb.records.errors import ConflictError, DatabaseUnavailableError, InvalidRecordError, RecordError
from kb.records.models import RELATIONS
from kb.records.ranking import decayed_counts
from kb.records.reports import ArticleUsage, KcsReport, Period, Reports, csv_text, to_json
from kb.records.store import RecordStore
from search.metrics import RECORDS_WRITE_ERRORS
from web import openapi
from web.catalog import get_snapshot
from web.errors import json_error
from web.i18n import translate
from web.jsonbody import MAX_JSON_BYTES, read_json_object
from web.records_charts import PALETTE, Series, rate_bars, stacked_bars
from web.security import check_csrf, from_proxy
from web.settings import get_settings
from web.templating import category_name

log = logging.getLogger(__name__)

bp = Blueprint("records", __name__)
EXTENSION_KEY = "kb_records"
MAX_REPORT_DAYS = 3650
RESOLUTION_FIELDS = frozenset({"article", "ticket_id", "category", "relation", "ticket_system", "user", "note", "when"})
CLOSED_FIELDS = frozenset({"ticket_id", "category", "ticket_system", "user", "note", "when", "text"})
MAX_TICKET_TEXT = 12_000  # a ticket's public reply: enough for long answers, bounded by MAX_JSON_BYTES anyway
# A link to an article of this site in a ticket's reply: /articles/<id> or a search result's /go/<n>/<id>,
# with or without scheme and host, possibly inside an HTML href.
ARTICLE_LINK = re.compile(r"(?:https?://(?P<host>[^/\s\"'<>]+))?/(?:articles|go/\d+)/(?P<id>[^\s\"'<>#?)\]]+)")
FEEDBACK_FIELDS = frozenset({"article", "helpful", "search_id", "ticket_id", "ticket_system", "user", "comment"})
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
EARLIEST_WHEN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # no ticket system predates Unix time
MAX_ROW_ID = 2**31 - 1  # record ids are INTEGER columns (32 bits on PostgreSQL); a larger one names no row
CSV_TABLES = ("categories", "gaps", "zero_results", "unused", "overdue", "flags")

# Interface text of these pages in Chinese (English is the key), kept with the pages that use it.



# -- accessors ---------------------------------------------------------------------------------
def get_database() -> Database:
    """The records database of this app (its engine is created on first use, in the worker)."""
    db: Database = current_app.extensions[EXTENSION_KEY]
    return db


def get_store() -> RecordStore:
    """A store checking articles and categories against the index this request reads."""
    snap = get_snapshot()
    return RecordStore(get_database(), snap.resolve, frozenset(snap.vocabulary.categories))


def get_reports() -> Reports:
    """Reports over the articles of the current index."""
    snap = get_snapshot()
    return Reports(get_database(), snap.articles, resolve=snap.resolve)


def current_user(named: str = "") -> str:
    """The reverse proxy's user header when one is configured and sent, else the name the form gave."""
    header = get_settings().user_header
    if header and from_proxy():  # anyone reaching the app server directly could send the header
        value = request.headers.get(header, "").strip()
        if value:
            return value[:200]
    return named.strip()[:200]


# -- used by other pages -----------------------------------------------------------------------
def article_usage(article_id: str) -> ArticleUsage | None:
    """How an article was used on tickets (None when the records database is unavailable)."""
    try:
        return get_reports().article_usage(article_id, recent=5)
    except DatabaseUnavailableError as exc:
        log.warning("records unavailable for article %s: %s", article_id, exc)
        return None


def log_search(query: str, filters: Mapping[str, Sequence[str]], result_count: int) -> int | None:
    """Log a search for the reports; a logging failure never fails the search itself."""
    if not query.strip():
        return None
    try:
        return get_store().log_search(query, filters, result_count)
    except RecordError as exc:
        RECORDS_WRITE_ERRORS.labels("search_log").inc()
        log.warning("search not logged: %s", exc)
        return None


def solution_scores() -> dict[str, float]:
    """Resolutions per article id, decayed with age: sort category pages and "most used" by it (best first).

    Empty when the records database is unavailable, so a listing never fails because of it.
    """
    try:
        return decayed_counts(get_database(), get_snapshot().resolve, utc_now())
    except DatabaseUnavailableError as exc:
        log.warning("records unavailable: %s", exc)
        return {}


def most_used(limit: int = 5) -> list[tuple[str, float]]:
    """The most-used solutions now: (article id, decayed resolution count), best first."""
    scores = solution_scores()
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def usage_counts() -> dict[str, int]:
    """Distinct tickets per article id, all time (for sorting category pages); empty when unavailable."""
    try:
        return get_reports().usage_counts()
    except DatabaseUnavailableError as exc:
        log.warning("records unavailable: %s", exc)
        return {}


# -- the JSON API ------------------------------------------------------------------------------
def _authorize() -> Response | None:
    """None when the request carries the bearer token whose SHA-256 is in the settings."""
    expected = get_settings().api_token_hash.strip().lower()
    if not expected:
        return json_error(503, "api disabled", "recording through the API is off: set KB_API_TOKEN_HASH "
                          "to the SHA-256 hex digest of a token")
    if not SHA256_HEX.fullmatch(expected):
        log.error("KB_API_TOKEN_HASH is not a SHA-256 hex digest (64 hex digits); API writes refused")
        return json_error(503, "api misconfigured", "KB_API_TOKEN_HASH must be the SHA-256 hex digest of the "
                          "token (64 hex digits), e.g. from `printf %s \"$TOKEN\" | sha256sum`")
    hub_signature = request.headers.get("X-Hub-Signature", "")
    hub_secret = get_settings().ticket_hmac_secret
    if hub_signature and hub_secret:
        # Zammad's webhooks: X-Hub-Signature: sha1=HMAC-SHA1(secret, body).
        digest = hmac.new(hub_secret.encode(), request.get_data(cache=True), hashlib.sha1).hexdigest()
        if hmac.compare_digest(hub_signature.strip().encode(), f"sha1={digest}".encode()):
            return None
        return json_error(401, "unauthorized", "the X-Hub-Signature does not match the body (KB_TICKET_HMAC_SECRET)")
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    sent = hashlib.sha256(token.strip().encode()).hexdigest()
    # Compare digests in constant time; `ok` is computed even for a wrong scheme.
    ok = hmac.compare_digest(sent, expected)
    if scheme.lower() != "bearer" or not token.strip() or not ok:
        return json_error(401, "unauthorized", "send the API token as `Authorization: Bearer <token>`",
                          {"WWW-Authenticate": 'Bearer realm="kb"'})
    return None


def _json_object(allowed: frozenset[str]) -> dict[str, Any]:
    """The request body as a JSON object with only allowed keys (else the 4xx that explains why not)."""
    return read_json_object(allowed, MAX_JSON_BYTES)


def _when(value: object) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRecordError("when must be an ISO 8601 time with a zone, e.g. 2026-11-01T09:30:00+08:00")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRecordError(f"when {value[:40]!r} is not an ISO 8601 time with a zone") from None
    if when.tzinfo is None:
        raise InvalidRecordError("when needs a time zone, e.g. 2026-11-01T09:30:00+08:00 or ...Z")
    try:
        when = when.astimezone(dt.UTC)  # 0001-01-01T00:00+14:00 lies before the first representable UTC time
    except OverflowError:
        raise InvalidRecordError(f"when {value[:40]!r} is out of range") from None
    if when < EARLIEST_WHEN:
        raise InvalidRecordError(f"when {value[:40]!r} lies before {EARLIEST_WHEN:%Y-%m-%d}")
    if when > utc_now() + dt.timedelta(minutes=5):
        raise InvalidRecordError("when lies in the future")
    return when


def _record_error(exc: RecordError) -> Response:
    if isinstance(exc, ConflictError):
        return json_error(409, "conflict", str(exc))
    if isinstance(exc, InvalidRecordError):
        return json_error(422, "invalid record", str(exc))
    RECORDS_WRITE_ERRORS.labels("api").inc()
    return json_error(503, "records unavailable", str(exc), {"Retry-After": "10"})


@bp.post("/api/resolutions")
def api_record_resolution() -> Response:
    """A ticketing system reports that an article resolved a ticket: 201 new, 200 already recorded."""
    denied = _authorize()
    if denied is not None:
        return denied
    data = _json_object(RESOLUTION_FIELDS)
    try:
        record = get_store().record_resolution(
            article=data.get("article"), ticket_id=data.get("ticket_id"), category=data.get("category"),
            relation=data.get("relation"), ticket_system=data.get("ticket_system"), user=data.get("user"),
            note=data.get("note"), source="api", when=_when(data.get("when")))
    except RecordError as exc:
        return _record_error(exc)
    response = jsonify(created=record.created, resolution=record.to_json(),
                       message="recorded" if record.created else "already recorded; nothing changed")
    response.status_code = 201 if record.created else 200
    return response


def linked_articles(text: str) -> list[str]:
    """Ids of this site's articles linked from a ticket's reply text, in order, each once.

    With KB_TRUSTED_HOSTS set, a link with a host counts only when the host is one of them (or the
    request's); without it, any host does. Ids, aliases and old paths all resolve to the current id,
    and links to unknown articles are ignored.
    """
    trusted = {h.strip().lower() for h in get_settings().trusted_hosts.split(",") if h.strip()}
    hosts = {request.host.lower(), *trusted}
    snap = get_snapshot()
    found: list[str] = []
    for match in ARTICLE_LINK.finditer(html.unescape(text[:MAX_TICKET_TEXT])):  # &quot; and &amp; in HTML replies
        host = match.group("host")
        if host and trusted and host.lower() not in hosts:
            continue
        article_id = snap.resolve(unquote(match.group("id")).rstrip(".,;:!'\""))
        if article_id is not None and article_id not in found:
            found.append(article_id)
    return found


ZAMMAD_FIELDS = frozenset({"ticket", "article"})


def _from_zammad(data: dict[str, Any]) -> dict[str, Any]:
    """Zammad's own webhook body (no custom payload): {"ticket": {...}, "article": {...}}."""
    ticket: dict[str, Any] = data["ticket"] if isinstance(data.get("ticket"), dict) else {}
    article: dict[str, Any] = data["article"] if isinstance(data.get("article"), dict) else {}
    owner: dict[str, Any] = ticket["owner"] if isinstance(ticket.get("owner"), dict) else {}
    body = article.get("body") if article.get("internal") is not True else None
    return {"ticket_id": ticket.get("number") or ticket.get("id"), "ticket_system": "zammad",
            "user": owner.get("email") or owner.get("login") or "", "text": body if isinstance(body, str) else None,
            **{k: v for k, v in data.items() if k not in ZAMMAD_FIELDS}}


def _record_linked(data: dict[str, Any], article_ids: list[str]) -> Response:
    """Resolutions for every article the reply links to (category: the one sent, else the article's own)."""
    store, snap = get_store(), get_snapshot()
    records = []
    try:
        for article_id in article_ids:
            category = data.get("category") or next(iter(snap.by_id[article_id].categories), None)
            records.append(store.record_resolution(
                article=article_id, ticket_id=data.get("ticket_id"), category=category, relation="resolved",
                ticket_system=data.get("ticket_system"), user=data.get("user"), note=data.get("note"),
                source="api", when=_when(data.get("when"))))
    except RecordError as exc:
        return _record_error(exc)
    created = any(r.created for r in records)
    response = jsonify(created=created, ticket=None, resolutions=[r.to_json() for r in records],
                       message=f"recorded {len(records)} article(s) linked in the reply" if created
                       else "already recorded; nothing changed")
    response.status_code = 201 if created else 200
    return response


@bp.post("/api/tickets/closed")
def api_closed_without_article() -> Response:
    """A ticket was closed: with `text` (its public reply) that links kb articles, each linked article
    is recorded as resolving it; otherwise it counts as closed without an article. 201 new, 200 known."""
    denied = _authorize()
    if denied is not None:
        return denied
    data = _json_object(CLOSED_FIELDS | ZAMMAD_FIELDS if request.headers.get("X-Hub-Signature") else CLOSED_FIELDS)
    if set(data) & ZAMMAD_FIELDS:
        data = _from_zammad(data)
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        return json_error(422, "invalid record", "text must be the ticket's public reply as a string")
    linked = linked_articles(text) if text else []
    if linked:
        return _record_linked(data, linked)
    try:
        record = get_store().record_closed_without_article(
            ticket_id=data.get("ticket_id"), category=data.get("category"), ticket_system=data.get("ticket_system"),
            user=data.get("user"), note=data.get("note"), source="api", when=_when(data.get("when")))
    except RecordError as exc:
        return _record_error(exc)
    response = jsonify(created=record.created, ticket=record.to_json(), resolutions=[],
                       message="recorded" if record.created else "already recorded; nothing changed")
    response.status_code = 201 if record.created else 200
    return response


@bp.post("/api/feedback")
def api_feedback() -> Response:
    """Was an article helpful? From the site's own pages (JSON, so no cross-site form can post it)."""
    data = _json_object(FEEDBACK_FIELDS)
    search_id = data.get("search_id")
    if search_id is not None and (not isinstance(search_id, int) or isinstance(search_id, bool)
                                  or not 1 <= search_id <= MAX_ROW_ID):
        return json_error(422, "invalid record", "search_id must be a positive whole number")
    try:
        feedback_id = get_store().record_feedback(
            article=data.get("article"), helpful=data.get("helpful"), search_id=search_id,
            ticket_id=data.get("ticket_id"), ticket_system=data.get("ticket_system"),
            user=current_user(str(data.get("user") or "")), comment=data.get("comment"))
    except RecordError as exc:
        return _record_error(exc)
    response = jsonify(id=feedback_id, message="thank you")
    response.status_code = 201
    return response


# -- the article page --------------------------------------------------------------------------
@bp.post("/articles/<path:article_id>/resolutions")
def record_from_article(article_id: str) -> ResponseReturnValue:
    """The article page's form: this article resolved a ticket."""
    check_csrf()
    snap = get_snapshot()
    article = snap.by_id.get(article_id)
    if article is None:
        abort(404)
    form = request.form
    try:
        record = get_store().record_resolution(
            article=article.id, ticket_id=form.get("ticket_id", ""), category=form.get("category", ""),
            relation=form.get("relation") or "resolved", ticket_system=form.get("ticket_system") or None,
            user=current_user(form.get("name", "")), note=form.get("note", ""), source="web")
    except ConflictError as exc:
        abort(409, description=str(exc))
    except InvalidRecordError as exc:
        abort(400, description=str(exc))
    if record.created:
        flash(translate("Recorded ticket %(ticket)s") % {"ticket": record.ticket_id})
    else:
        flash(translate("Ticket %(ticket)s was already recorded") % {"ticket": record.ticket_id})
    return redirect(url_for("articles.show", article_id=article.id, _anchor="record-resolution"), code=303)


@bp.get("/go/<int:search_id>/<path:article_id>")
def follow_result(search_id: int, article_id: str) -> ResponseReturnValue:
    """A search result link: remember the click, then go to the article (only ever an article URL)."""
    snap = get_snapshot()
    current = snap.resolve(article_id)
    if current is None:
        abort(404)
    if search_id > MAX_ROW_ID:  # no such search: just go to the article
        return redirect(url_for("articles.show", article_id=current), code=303)
    try:
        get_store().log_click(search_id, current)
    except RecordError as exc:
        RECORDS_WRITE_ERRORS.labels("click").inc()
        log.warning("click not logged: %s", exc)
    return redirect(url_for("articles.show", article_id=current), code=303)


# -- reports -----------------------------------------------------------------------------------
def _period() -> tuple[Period, int]:
    raw = request.args.get("days", "30")
    try:
        days = int(raw)
    except ValueError:
        abort(400, description="days must be a whole number of days (0 for all time)")
    if not 0 <= days <= MAX_REPORT_DAYS:
        abort(400, description=f"days must be between 0 and {MAX_REPORT_DAYS}")
    return (Period.last_days(days, utc_now()) if days else Period()), days


def _category() -> str | None:
    value = request.args.get("category", "").strip().strip("/").lower()
    if not value:
        return None
    if value not in get_snapshot().vocabulary.categories:
        abort(400, description=f"unknown category {value[:80]!r}")
    return value


def _format() -> str:
    fmt = request.args.get("format", "html")
    if fmt not in ("html", "json", "csv"):
        abort(400, description="format must be html, json or csv")
    return fmt


def _csv(rows: Sequence[Any], name: str) -> Response:
    return Response(csv_text(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _kcs_table(report: KcsReport, table: str) -> Sequence[Any]:
    return {"categories": report.categories, "gaps": report.content_gaps, "unused": report.unused_articles,
            "zero_results": report.zero_result_queries, "overdue": report.review_overdue,
            "flags": report.open_flags}[table]


@bp.get("/reports/")
def kcs() -> ResponseReturnValue:
    """The KCS report: link rate, reuse versus new, content gaps, unused and overdue articles, open flags."""
    period, days = _period()
    category = _category()
    fmt = _format()
    report = get_reports().kcs(period, prefix=category)
    if fmt == "json":
        return jsonify(to_json(report))
    if fmt == "csv":
        table = request.args.get("table", "categories")
        if table not in CSV_TABLES:
            abort(400, description=f"table must be one of {', '.join(CSV_TABLES)}")
        return _csv(_kcs_table(report, table), f"kcs-{table}")
    charts = {
        "tickets": stacked_bars(translate("Tickets by category"),
                                [(category_name(s.category), (s.with_article, s.without_article))
                                 for s in report.categories[:15]],
                                [Series(translate("with an article"), PALETTE[0]),
                                 Series(translate("without an article"), PALETTE[1])]),
        "reuse": stacked_bars(translate("Reuse versus new"),
                              [(category_name(s.category), (s.reuse, s.new)) for s in report.categories[:15]],
                              [Series(translate("Reuse"), PALETTE[2]), Series(translate("New"), PALETTE[3])]),
        "link_rate": rate_bars(translate("Link rate by category"),
                               [(category_name(s.category), s.link_rate) for s in report.categories[:15]]),
    }
    return render_template("records/kcs.html", report=report, days=days, category=category, charts=charts,
                           tables=CSV_TABLES)


@bp.get("/reports/categories")
def categories() -> ResponseReturnValue:
    """Per ticket category: top solutions, tickets with and without an article."""
    period, days = _period()
    category = _category()
    fmt = _format()
    rows = get_reports().categories(period, prefix=category, top=10)
    if fmt == "json":
        return jsonify(period=to_json(period), categories=to_json(rows))
    if fmt == "csv":
        return _csv(rows, "categories")
    return render_template("records/categories.html", rows=rows, days=days, category=category, period=period)


@bp.get("/reports/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """One article's use on tickets: how many, when last, by whom, recent tickets."""
    snap = get_snapshot()
    current = snap.resolve(article_id)
    if current is None:
        abort(404)
    if current != article_id:
        return redirect(url_for("records.article", article_id=current), code=301)
    period, days = _period()
    fmt = _format()
    usage = get_reports().article_usage(current, period, recent=50)
    if fmt == "json":
        return jsonify(to_json(usage))
    if fmt == "csv":
        return _csv(usage.recent, f"tickets-{current.replace('/', '-')}")
    return render_template("records/article.html", usage=usage, article=snap.by_id.get(current), days=days)


def _unavailable(exc: DatabaseUnavailableError) -> ResponseReturnValue:
    log.error("records database unavailable: %s", exc)
    if request.method == "POST":
        RECORDS_WRITE_ERRORS.labels("site").inc()
    if request.path.startswith("/api/"):
        return json_error(503, "records unavailable", str(exc), {"Retry-After": "10"})
    return render_template("records/unavailable.html", message=str(exc)), 503, {"Retry-After": "10"}


bp.register_error_handler(DatabaseUnavailableError, _unavailable)


def init_app(app: Flask) -> None:
    """Register the records pages and API, the database accessor, and the template helpers."""
    settings = app.config["KB_SETTINGS"]
    app.extensions[EXTENSION_KEY] = Database(settings.database_url)
    app.register_blueprint(bp)
    openapi.register(app, OPENAPI_PATHS, OPENAPI_SCHEMAS, OPENAPI_SECURITY)
    app.jinja_env.globals.update(records_usage=article_usage, RECORD_RELATIONS=RELATIONS,
                                 records_categories=record_categories, records_user_from_proxy=user_from_proxy)


def record_categories() -> list[str]:
    """Ticket categories a record may name (the vocabulary's), sorted."""
    return sorted(get_snapshot().vocabulary.categories)


def user_from_proxy() -> bool:
    """True when the reverse proxy names the user, so forms need no name field."""
    header = get_settings().user_header
    return bool(header and from_proxy() and request.headers.get(header, "").strip())


# -- OpenAPI: merged into /api/openapi.json by web/openapi.py ----------------------------------------
def _schema_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(ref: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _schema_ref(ref)}}}


_TEXT = {"type": "string"}
_NULLABLE_TEXT = {"type": ["string", "null"]}
OPENAPI_SCHEMAS: dict[str, Any] = {
    "ResolutionInput": {
        "type": "object", "required": ["article", "ticket_id", "category"], "additionalProperties": False,
        "properties": {
            "article": {"type": "string", "description": "Article id, or an alias or old path of one."},
            "ticket_id": {"type": ["string", "integer"], "description": "1-64 of A-Z a-z 0-9 . _ : # / -"},
            "category": {"type": "string", "description": "A ticket category from the vocabulary."},
            "relation": {"type": "string", "enum": list(RELATIONS), "default": "resolved"},
            "ticket_system": {"type": "string", "default": "default"},
            "user": _TEXT, "note": {"type": "string", "maxLength": 2000},
            "when": {"type": "string", "format": "date-time", "description": "With a time zone; default now."},
        }},
    "ClosedTicketInput": {
        "type": "object", "required": ["ticket_id"], "additionalProperties": False,
        "properties": {"ticket_id": {"type": ["string", "integer"]},
                       "category": {"type": "string", "description": "Required unless `text` links an article "
                                    "(then the article's first category is used)."},
                       "ticket_system": _TEXT, "user": _TEXT, "note": _TEXT,
                       "when": {"type": "string", "format": "date-time"},
                       "text": {"type": "string", "description": "The ticket's public reply: every link in it to "
                                "an article of this site is recorded as resolving the ticket."}}},
    "Resolution": {
        "type": "object",
        "required": ["id", "ticket_system", "ticket_id", "article_id", "relation", "category", "user", "created_at",
                     "source", "note", "created"],
        "properties": {"id": {"type": "integer"}, "ticket_system": _TEXT, "ticket_id": _TEXT, "article_id": _TEXT,
                       "relation": {"type": "string", "enum": list(RELATIONS)}, "category": _TEXT, "user": _TEXT,
                       "created_at": {"type": "string", "format": "date-time"}, "source": _TEXT, "note": _TEXT,
                       "created": {"type": "boolean"}}},
    "ClosedTicket": {
        "type": "object",
        "required": ["id", "ticket_system", "ticket_id", "category", "user", "closed_at", "source", "note", "created"],
        "properties": {"id": {"type": "integer"}, "ticket_system": _TEXT, "ticket_id": _TEXT, "category": _TEXT,
                       "user": _TEXT, "closed_at": {"type": "string", "format": "date-time"}, "source": _TEXT,
                       "note": _TEXT, "created": {"type": "boolean"}}},
    "ResolutionAnswer": {
        "type": "object", "required": ["created", "resolution", "message"],
        "properties": {"created": {"type": "boolean"}, "resolution": _schema_ref("Resolution"), "message": _TEXT}},
    "ClosedTicketAnswer": {
        "type": "object", "required": ["created", "ticket", "resolutions", "message"],
        "properties": {"created": {"type": "boolean"},
                       "ticket": {"oneOf": [_schema_ref("ClosedTicket"), {"type": "null"}],
                                  "description": "Null when the reply linked articles."},
                       "resolutions": {"type": "array", "items": _schema_ref("Resolution")}, "message": _TEXT}},
    "FeedbackInput": {
        "type": "object", "required": ["article", "helpful"], "additionalProperties": False,
        "properties": {"article": _TEXT, "helpful": {"type": "boolean"}, "search_id": {"type": "integer"},
                       "ticket_id": _TEXT, "ticket_system": _TEXT, "user": _TEXT, "comment": _TEXT}},
    "FeedbackAnswer": {"type": "object", "required": ["id", "message"],
                       "properties": {"id": {"type": "integer"}, "message": _TEXT}},
}
OPENAPI_SECURITY: dict[str, Any] = {"ticketToken": {
    "type": "http", "scheme": "bearer",
    "description": "The token whose SHA-256 hex digest is KB_API_TOKEN_HASH."}, "hubSignature": {
    "type": "apiKey", "in": "header", "name": "X-Hub-Signature",
    "description": "Zammad's `sha1=` HMAC-SHA1 of the body with KB_TICKET_HMAC_SECRET."}}
_WRITE_ERRORS = {
    "400": _json_body("Error", "Not a JSON object, or unknown fields."),
    "401": _json_body("Error", "Missing or wrong bearer token."),
    "409": _json_body("Error", "Already recorded with another category; nothing changed."),
    "413": _json_body("Error", "Body over 16 KiB."),
    "415": _json_body("Error", "Not application/json."),
    "422": _json_body("Error", "Unknown article or category, malformed ticket id, bad field value."),
    "503": _json_body("Error", "API writes are off, or the records database is unavailable."),
}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/resolutions": {"post": {
        "summary": "Record that an article resolved a ticket (idempotent).",
        "security": [{"ticketToken": []}, {"hubSignature": []}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _schema_ref("ResolutionInput")}}},
        "responses": {"201": _json_body("ResolutionAnswer", "Recorded."),
                      "200": _json_body("ResolutionAnswer", "Already recorded; nothing changed."),
                      **_WRITE_ERRORS}}},
    "/api/tickets/closed": {"post": {
        "summary": "Record a closed ticket (idempotent): the articles its reply `text` links, else closed "
                   "without an article.",
        "security": [{"ticketToken": []}, {"hubSignature": []}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": _schema_ref("ClosedTicketInput")}}},
        "responses": {"201": _json_body("ClosedTicketAnswer", "Recorded."),
                      "200": _json_body("ClosedTicketAnswer", "Already recorded; nothing changed."),
                      **_WRITE_ERRORS}}},
    "/api/feedback": {"post": {
        "summary": "Whether an article helped, with the search or ticket it came from.",
        "requestBody": {"required": True, "content": {"application/json": {"schema": _schema_ref("FeedbackInput")}}},
        "responses": {"201": _json_body("FeedbackAnswer", "Recorded."),
                      **{k: v for k, v in _WRITE_ERRORS.items() if k not in ("401", "409")}}}},
}

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
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, unquote

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
from werkzeug.wrappers import Response as BaseResponse

from kb.clock import utc_now
from kb.notify import Message, send_in_background
from kb.records.db import Database
from kb.records.errors import ConflictError, DatabaseUnavailableError, InvalidRecordError, RecordError
from kb.records.kcs import LINK_RATE_BAND, TREND_UNITS
from kb.records.models import RELATIONS
from kb.records.ranking import decayed_counts
from kb.records.reports import ArticleUsage, KcsReport, Period, Reports, csv_text, to_json
from kb.records.store import RecordStore
from kb.records.validation import DEFAULT_TICKET_SYSTEM
from search.metrics import RECORDS_WRITE_ERRORS
from web import openapi
from web.articles import article_page
from web.catalog import ArticleView, get_snapshot
from web.errors import json_error
from web.i18n import translate
from web.jsonbody import MAX_JSON_BYTES, read_json_object
from web.records_charts import PALETTE, Series, rate_bars, stacked_bars, trend_lines
from web.security import check_csrf, from_proxy
from web.settings import get_settings
from web.templating import category_name

log = logging.getLogger(__name__)

bp = Blueprint("records", __name__)
EXTENSION_KEY = "kb_records"
NOTIFY_THREADS_KEY = "kb_notify_threads"  # notifications under way (tests wait for them)
MAX_REPORT_DAYS = 3650
MAX_TICKET_TEXT = 12_000  # a ticket's public reply: enough for long answers, bounded by MAX_JSON_BYTES anyway
# A link to an article of this site in a ticket's reply: /articles/<id> or a search result's /go/<n>/<id>,
# with or without scheme and host, possibly inside an HTML href.
ARTICLE_LINK = re.compile(r"(?:https?://(?P<host>[^/\s\"'<>]+))?/(?:articles|go/\d+)/(?P<id>[^\s\"'<>#?)\]]+)")
RESOLUTION_FIELDS = frozenset({"article", "ticket_id", "category", "relation", "ticket_system", "user", "note", "when",
                               "ticket_opened", "subject", "search_id"})
CLOSED_FIELDS = frozenset({"ticket_id", "category", "ticket_system", "user", "note", "when", "text"})
FEEDBACK_FIELDS = frozenset({"article", "helpful", "search_id", "ticket_id", "ticket_system", "user", "comment"})
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
EARLIEST_WHEN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # no ticket system predates Unix time
MAX_ROW_ID = 2**31 - 1  # record ids are INTEGER columns (32 bits on PostgreSQL); a larger one names no row
CSV_TABLES = ("measures", "trend", "categories", "searches", "gaps", "zero_results", "review_queue", "helpful",
              "overdue", "unused", "flags")
PURGE_EVERY = dt.timedelta(hours=1)
_last_purge: dt.datetime | None = None

# Interface text of these pages in Chinese (English is the key), kept with the pages that use it.



# -- accessors ---------------------------------------------------------------------------------
def get_database() -> Database:
    """The records database of this app (its engine is created on first use, in the worker)."""
    db: Database = current_app.extensions[EXTENSION_KEY]
    return db


def get_store() -> RecordStore:
    """A store checking articles and categories against the index this request reads."""
    snap = get_snapshot()
    return RecordStore(get_database(), snap.resolve, frozenset(snap.vocabulary.categories),
                       fold_ticket_case=get_settings().ticket_id_case == "insensitive")


def get_reports() -> Reports:
    """Reports over the articles of the current index (their births are stored by the build)."""
    snap = get_snapshot()
    return Reports(get_database(), snap.articles, resolve=snap.resolve,
                   births={a.id: a.created for a in snap.articles if a.created is not None},
                   onboarding={step for path in snap.vocabulary.onboarding.values() for step in path.steps},
                   fold_ticket_case=get_settings().ticket_id_case == "insensitive")


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


def log_search(query: str, filters: Mapping[str, Sequence[str]], result_count: int, source: str = "web"
               ) -> int | None:
    """Log a search for the reports; a logging failure never fails the search itself.

    Searches older than KB_SEARCH_LOG_RETENTION_DAYS are deleted as new ones arrive, at most
    once per PURGE_EVERY in each worker.
    """
    if not query.strip():
        return None
    try:
        store = get_store()
        search_id = store.log_search(query, filters, result_count, source=source, user=current_user())
        _purge_now_and_then(store)
        return search_id
    except RecordError as exc:
        RECORDS_WRITE_ERRORS.labels("search_log").inc()
        log.warning("search not logged: %s", exc)
        return None


def _purge_now_and_then(store: RecordStore) -> None:
    global _last_purge
    now = utc_now()
    if _last_purge is not None and now - _last_purge < PURGE_EVERY:
        return
    _last_purge = now
    removed = store.purge_search_log(get_settings().search_log_retention_days)
    if removed:
        log.info("%d searches older than %d days deleted from the search log", removed,
                 get_settings().search_log_retention_days)


def search_filters(filters: Mapping[str, str | Sequence[str]]) -> dict[str, list[str]]:
    """Filters as the search log stores them: name -> list of values."""
    return {k: [v] if isinstance(v, str) else list(v) for k, v in filters.items() if v}


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


def _when(value: object, name: str = "when") -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRecordError(f"{name} must be an ISO 8601 time with a zone, e.g. 2026-11-01T09:30:00+08:00")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidRecordError(f"{name} {value[:40]!r} is not an ISO 8601 time with a zone") from None
    if when.tzinfo is None:
        raise InvalidRecordError(f"{name} needs a time zone, e.g. 2026-11-01T09:30:00+08:00 or ...Z")
    try:
        when = when.astimezone(dt.UTC)  # 0001-01-01T00:00+14:00 lies before the first representable UTC time
    except OverflowError:
        raise InvalidRecordError(f"{name} {value[:40]!r} is out of range") from None
    if when < EARLIEST_WHEN:
        raise InvalidRecordError(f"{name} {value[:40]!r} lies before {EARLIEST_WHEN:%Y-%m-%d}")
    if when > utc_now() + dt.timedelta(minutes=5):
        raise InvalidRecordError(f"{name} lies in the future")
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
    search_id = data.get("search_id")
    if search_id is not None and (not isinstance(search_id, int) or isinstance(search_id, bool)
                                  or not 1 <= search_id <= MAX_ROW_ID):
        return json_error(422, "invalid record", "search_id must be a positive whole number (X-KB-Search-Id)")
    try:
        record = get_store().record_resolution(
            article=data.get("article"), ticket_id=data.get("ticket_id"), category=data.get("category"),
            relation=data.get("relation"), ticket_system=data.get("ticket_system"), user=data.get("user"),
            note=data.get("note"), source="api", when=_when(data.get("when")),
            ticket_opened=_when(data.get("ticket_opened"), "ticket_opened"), subject=data.get("subject"))
    except RecordError as exc:
        return _record_error(exc)
    if search_id is not None:
        _search_ended_on(search_id, record.article_id)
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
NAME_COOKIE = "kb_name"
NAME_COOKIE_DAYS = 365
RECORD_FORM_FIELDS = ("ticket_id", "category", "relation", "ticket_system", "note", "name", "ticket_opened", "subject")


def _article_or_404(article_id: str) -> ArticleView:
    article = get_snapshot().by_id.get(article_id)
    if article is None:
        abort(404)
    return article


def _back_to(article: ArticleView, anchor: str, name: str = "", search_id: str = "") -> BaseResponse:
    """303 back to the article at the form that was used; remembers the name the form gave."""
    params: dict[str, Any] = {"s": search_id} if search_id.isdigit() else {}
    response = redirect(url_for("articles.show", article_id=article.id, _anchor=anchor, **params), code=303)
    name = name.strip()[:200]
    if name and not user_from_proxy() and name != request.cookies.get(NAME_COOKIE, ""):
        response.set_cookie(NAME_COOKIE, name, max_age=NAME_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                            secure=request.is_secure)
    return response


def remembered_name() -> str:
    """The name this browser gave last time (forms prefill it), or the proxy's user."""
    return current_user(request.cookies.get(NAME_COOKIE, ""))


def _search_ended_on(search_id: int, article_id: str) -> None:
    """The search that led to a resolution ended on this article (its words then rank the article)."""
    try:
        get_store().log_click(search_id, article_id)
    except RecordError as exc:
        log.warning("search %d not tied to %s: %s", search_id, article_id, exc)


def _form_time(value: str, name: str) -> dt.datetime | None:
    """A date or date and time from a form field; a bare date or time without zone is UTC."""
    text = value.strip()
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRecordError(f"{name} {text[:40]!r} is not a date (2026-11-01) or a date and time") from None
    when = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    if when > utc_now() + dt.timedelta(minutes=5):
        raise InvalidRecordError(f"{name} lies in the future")
    return when


@bp.post("/articles/<path:article_id>/resolutions")
def record_from_article(article_id: str) -> ResponseReturnValue:
    """"Solved a ticket with this": errors answer on the article page with the input kept."""
    check_csrf()
    article = _article_or_404(article_id)
    form = {k: request.form.get(k, "").strip() for k in RECORD_FORM_FIELDS}
    try:
        record = get_store().record_resolution(
            article=article.id, ticket_id=form["ticket_id"], category=form["category"],
            relation=form["relation"] or "resolved", ticket_system=form["ticket_system"] or None,
            user=current_user(form["name"]), note=form["note"], source="web",
            ticket_opened=_form_time(form["ticket_opened"], "ticket opened"), subject=form["subject"])
    except ConflictError as exc:
        stored = exc.stored_category
        return article_page(article, record_form=form, record_error=str(exc), record_conflict=stored), 409
    except InvalidRecordError as exc:
        return article_page(article, record_form=form, record_error=str(exc)), 400
    raw_search = request.form.get("s", "")
    if raw_search.isdigit() and len(raw_search) < 11 and 1 <= int(raw_search) <= MAX_ROW_ID:
        _search_ended_on(int(raw_search), record.article_id)
    if record.created:
        flash(translate("Recorded ticket %(ticket)s (%(category)s). Thank you.")
              % {"ticket": record.ticket_id, "category": category_name(record.category)}, "record")
    else:
        flash(translate("Ticket %(ticket)s was already recorded: nothing changed.") % {"ticket": record.ticket_id},
              "record")
    return _back_to(article, "record-resolution", form["name"], request.form.get("s", ""))


@bp.post("/articles/<path:article_id>/feedback")
def feedback_from_article(article_id: str) -> ResponseReturnValue:
    """"Was this helpful?": yes or no, an optional comment, tied to the search that led here (`s`)."""
    check_csrf()
    article = _article_or_404(article_id)
    answer = request.form.get("helpful", "")
    if answer not in ("yes", "no"):
        abort(400, description="helpful must be yes or no")
    raw_search = request.form.get("s", "").strip()
    search_id = int(raw_search) if raw_search.isdigit() and len(raw_search) < 11 else None
    if search_id is not None and not 1 <= search_id <= MAX_ROW_ID:
        search_id = None
    name = request.form.get("name", "")
    store = get_store()
    try:
        store.record_feedback(article=article.id, helpful=answer == "yes", search_id=search_id,
                              user=current_user(name), comment=request.form.get("comment", "")[:2000])
    except InvalidRecordError as exc:
        if search_id is None or "no search" not in str(exc):
            return article_page(article, feedback_error=str(exc)), 400
        # the search has passed its retention: the answer still counts, without it
        store.record_feedback(article=article.id, helpful=answer == "yes", user=current_user(name),
                              comment=request.form.get("comment", "")[:2000])
    flash(translate("Thank you for your feedback."), "feedback")
    return _back_to(article, "feedback", name)


@bp.post("/articles/<path:article_id>/flag")
def flag_from_article(article_id: str) -> ResponseReturnValue:
    """Flag an article as wrong or outdated: one open flag per person and reason; its owner is told."""
    check_csrf()
    article = _article_or_404(article_id)
    reason = request.form.get("reason", "").strip()
    name = request.form.get("name", "")
    if not reason:
        return article_page(article, flag_error=translate("Say what is wrong, so the owner can fix it."),
                            flag_form={"reason": reason, "name": name}), 400
    log.warning("article flagged as wrong or outdated: id=%s owner=%s reason=%r", article.id, article.owner,
                reason[:2000])
    try:
        flagged = get_store().flag_article(article=article.id, reason=reason[:2000], user=current_user(name))
    except InvalidRecordError as exc:
        return article_page(article, flag_error=str(exc), flag_form={"reason": reason, "name": name}), 400
    if not flagged.created:
        flash(translate("You already flagged this article for this reason; the flag is still open."), "flag")
    else:
        told = notify(flag_message(article, flagged))
        flash(translate("Thank you: the owner will be told.") if told
              else translate("Thank you: the flag is shown on this article and in the reports."), "flag")
    return _back_to(article, "flags", name)


@bp.post("/articles/<path:article_id>/flags/<int:flag_id>/close")
def close_flag_from_article(article_id: str, flag_id: int) -> ResponseReturnValue:
    """The owner (or anyone who fixed it) closes a flag from the article page."""
    check_csrf()
    article = _article_or_404(article_id)
    store = get_store()
    found = store.flag(flag_id) if flag_id <= MAX_ROW_ID else None
    if found is None or (get_snapshot().resolve(found.article_id) or found.article_id) != article.id:
        abort(404, description=f"article {article.id} has no flag {flag_id}")
    name = request.form.get("name", "")
    closed = store.close_flag(flag_id, user=current_user(name))
    flash(f"{translate('Flag closed')}: {closed.reason[:80]}", "flag")
    return _back_to(article, "flags", name)


def open_flags_of(article_id: str) -> list[Any]:
    """Open flags on one article, newest first (empty when the records database is unavailable)."""
    try:
        return get_store().flags(article_id, status="open")
    except DatabaseUnavailableError as exc:
        log.warning("records unavailable for flags of %s: %s", article_id, exc)
        return []


# -- notifications --------------------------------------------------------------------------------
def site_link(path: str) -> str:
    """An absolute link for a notification: KB_SITE_URL, else this request's host."""
    base = get_settings().site_url.rstrip("/") or request.host_url.rstrip("/")
    return base + path


def flag_message(article: ArticleView, flagged: Any) -> Message:
    """The notification for a new flag, addressed to the article's owner."""
    owner = article.owner or "no owner"
    who = flagged.user or "someone"
    return Message("flag", f"Flag on \"{article.title}\" for {owner}",
                   (f"{who}: {flagged.reason[:500]}", f"article: {article.id} (owner {owner})"),
                   site_link(url_for("articles.show", article_id=article.id, _anchor="flags")),
                   {"article_id": article.id, "owner": article.owner, "flag_id": flagged.id, "user": flagged.user,
                    "reason": flagged.reason})


def notify(message: Message) -> bool:
    """Send through KB_NOTIFY_WEBHOOK without making the request wait; False when none is set."""
    settings = get_settings()
    thread = send_in_background(settings.notify_webhook, message, settings.notify_format)
    if thread is not None:
        current_app.extensions.setdefault(NOTIFY_THREADS_KEY, []).append(thread)
    return thread is not None


def _log_click_later(response: BaseResponse, search_id: int, article_id: str) -> BaseResponse:
    """Record the click once the redirect has gone out, so following a result costs no database write."""
    store = get_store()

    def record() -> None:
        try:
            store.log_click(search_id, article_id)
        except RecordError as exc:
            RECORDS_WRITE_ERRORS.labels("click").inc()
            log.warning("click not logged: %s", exc)

    response.call_on_close(record)
    return response


@bp.get("/go/<int:search_id>/<path:article_id>")
def follow_result(search_id: int, article_id: str) -> ResponseReturnValue:
    """A search result link: go to the article (only ever an article URL), then remember the click.

    The article URL carries the search id (`?s=`), so "Was this helpful?" is tied to the search.
    """
    snap = get_snapshot()
    current = snap.resolve(article_id)
    if current is None:
        abort(404)
    if search_id > MAX_ROW_ID:  # no such search: just go to the article
        return redirect(url_for("articles.show", article_id=current), code=303)
    response = redirect(url_for("articles.show", article_id=current, s=search_id), code=303)
    return _log_click_later(response, search_id, current)


@bp.get("/go/typed/<path:article_id>")
def follow_typed(article_id: str) -> ResponseReturnValue:
    """A suggestion picked while typing: the query the user settled on is logged (keystrokes are not)."""
    snap = get_snapshot()
    current = snap.resolve(article_id)
    if current is None:
        abort(404)
    query = request.args.get("q", "").strip()[:500]
    try:
        shown = max(0, min(100, int(request.args.get("n", "1"))))
    except ValueError:
        shown = 1
    search_id = log_search(query, {}, shown, source="typed")
    if search_id is None:
        return redirect(url_for("articles.show", article_id=current), code=303)
    response = redirect(url_for("articles.show", article_id=current, s=search_id), code=303)
    return _log_click_later(response, search_id, current)


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
    return {"measures": report.measures_by_category, "trend": report.trend, "categories": report.categories,
            "gaps": report.content_gaps, "unused": report.unused_articles, "zero_results": report.zero_result_queries,
            "overdue": report.review_overdue, "review_queue": report.review_queue,
            "helpful": report.helpful_articles, "searches": report.top_searches, "flags": report.open_flags}[table]


def _trend_unit(days: int) -> str:
    unit = request.args.get("trend", "")
    if unit and unit not in TREND_UNITS:
        abort(400, description=f"trend must be one of {', '.join(TREND_UNITS)}")
    return unit or ("week" if 0 < days <= 120 else "month")


@bp.get("/reports/")
def kcs() -> ResponseReturnValue:
    """The KCS report: the KCS v6 measures with their trend, by category; gaps, the review queue,
    helpful rates, flags, unused and overdue articles. Every table as CSV or JSON (`table=`)."""
    period, days = _period()
    category = _category()
    fmt = _format()
    unit = _trend_unit(days)
    report = get_reports().kcs(period, prefix=category, trend_unit=unit)
    table = request.args.get("table", "")
    if table and table not in CSV_TABLES:
        abort(400, description=f"table must be one of {', '.join(CSV_TABLES)}")
    if fmt == "json":
        return jsonify(to_json(_kcs_table(report, table)) if table else to_json(report))
    if fmt == "csv":
        table = table or "categories"
        return _csv(_kcs_table(report, table), f"kcs-{table}")
    labels = [r.key for r in report.trend]
    charts = {
        "trend_rates": trend_lines(translate("Link rate, helpful rate and participation over time"), labels, [
            (Series(translate("Link rate"), PALETTE[0]), [r.link_rate for r in report.trend]),
            (Series(translate("Helpful rate"), PALETTE[2]), [r.helpful_rate for r in report.trend]),
            (Series(translate("Participation"), PALETTE[3]), [r.participation for r in report.trend])],
            band=LINK_RATE_BAND),
        "trend_tickets": stacked_bars(translate("Known and new issues over time"),
                                      [(r.key, (r.known, r.new, r.tickets - r.linked)) for r in report.trend],
                                      [Series(translate("Known"), PALETTE[0]), Series(translate("New"), PALETTE[1]),
                                       Series(translate("without an article"), "#9ca3af")]),
        "tickets": stacked_bars(translate("Tickets by category"),
                                [(category_name(s.category), (s.with_article, s.without_article))
                                 for s in report.categories[:15]],
                                [Series(translate("with an article"), PALETTE[0]),
                                 Series(translate("without an article"), PALETTE[1])]),
        "reuse": stacked_bars(translate("Reuse versus create"),
                              [(category_name(s.category), (s.reuse, s.new)) for s in report.categories[:15]],
                              [Series(translate("Reuse"), PALETTE[2]), Series(translate("Create"), PALETTE[3])]),
        "link_rate": rate_bars(translate("Link rate by category"),
                               [(category_name(s.category), s.link_rate) for s in report.categories[:15]]),
    }
    return render_template("records/kcs.html", report=report, days=days, category=category, charts=charts,
                           tables=CSV_TABLES, trend_unit=unit, trend_units=TREND_UNITS)


SAMPLE_SIZES = (10, 20, 50)


@bp.get("/reports/link-accuracy")
def link_review() -> ResponseReturnValue:
    """Process Alignment Review: N recently linked tickets drawn for a coach to mark right or wrong."""
    period, days = _period()
    fmt = _format()
    size = request.args.get("n", "20")
    if not size.isdigit() or not 1 <= int(size) <= 200:
        abort(400, description="n must be a whole number from 1 to 200")
    seed_text = request.args.get("seed", "")
    if not seed_text:  # a fixed seed keeps the same sample while the coach marks it
        return redirect(url_for("records.link_review", days=days, n=size, seed=secrets.randbelow(10**6)), code=303)
    if not seed_text.isdigit() or len(seed_text) > 9:
        abort(400, description="seed must be a whole number")
    reports = get_reports()
    sample = reports.link_sample(period, int(size), int(seed_text))
    if fmt == "json":
        return jsonify(period=to_json(period), sample=to_json(sample))
    if fmt == "csv":
        return _csv(sample, "link-review-sample")
    report = reports.kcs(period)
    return render_template("records/link_review.html", sample=sample, days=days, size=int(size), seed=int(seed_text),
                           sizes=SAMPLE_SIZES, report=report)


@bp.post("/reports/link-accuracy/<int:resolution_id>")
def mark_link(resolution_id: int) -> ResponseReturnValue:
    """A coach's mark on one sampled link; back to the same sample."""
    check_csrf()
    if resolution_id > MAX_ROW_ID:
        abort(404, description=f"no resolution with id {resolution_id}")
    answer = request.form.get("correct", "")
    if answer not in ("yes", "no"):
        abort(400, description="correct must be yes or no")
    name = request.form.get("name", "")
    reviewer = current_user(name)
    if not reviewer:
        abort(400, description=translate("Give your name, so the marks can be told apart."))
    try:
        get_store().review_link(resolution_id, correct=answer == "yes", reviewer=reviewer,
                                note=request.form.get("note", ""))
    except InvalidRecordError as exc:
        abort(400, description=str(exc))
    back = request.form.get("back", "")
    target = back if back.startswith("/reports/link-accuracy?") else url_for("records.link_review")
    response = redirect(f"{target}#link-{resolution_id}", code=303)
    if name.strip() and not user_from_proxy():
        response.set_cookie(NAME_COOKIE, name.strip()[:200], max_age=NAME_COOKIE_DAYS * 86400, httponly=True,
                            samesite="Lax", secure=request.is_secure)
    return response


@bp.post("/onboarding/<path_id>/progress")
def onboarding_step(path_id: str) -> ResponseReturnValue:
    """A known person (proxy user header) marks a step of a path done or not done; stored per person."""
    check_csrf()
    path = get_snapshot().vocabulary.onboarding.get(path_id)
    if path is None:
        abort(404)
    step = request.form.get("step", "")
    if step not in path.steps:
        abort(400, description=f"{step[:80]!r} is not a step of onboarding path {path_id}")
    person = known_user()
    if not person:
        abort(400, description="progress is stored per person only when the proxy names the user; "
                               "otherwise this browser keeps it")
    try:
        get_store().mark_onboarding_step(user=person, path_id=path_id, article=step,
                                         done=request.form.get("done", "1") == "1")
    except InvalidRecordError as exc:
        abort(400, description=str(exc))
    return redirect(url_for("onboarding.show", path_id=path_id, _anchor=f"step-{path.steps.index(step) + 1}"),
                    code=303)


@bp.get("/reports/onboarding")
def onboarding_team() -> ResponseReturnValue:
    """For leads: each newcomer's progress on each path and the time to their first resolved ticket."""
    fmt = _format()
    snap = get_snapshot()
    paths = {pid: p.steps for pid, p in snap.vocabulary.onboarding.items()}
    rows = get_reports().onboarding_progress(paths)
    if fmt == "json":
        return jsonify(progress=to_json(rows))
    if fmt == "csv":
        return _csv(rows, "onboarding-progress")
    return render_template("records/onboarding.html", rows=rows, paths=snap.vocabulary.onboarding, days=30)


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
                                 records_categories=record_categories, records_user_from_proxy=user_from_proxy,
                                 records_remembered_name=remembered_name, records_open_flags=open_flags_of,
                                 ticket_url=ticket_url, ticket_label=ticket_label, records_known_user=known_user,
                                 records_onboarding_done=onboarding_done, article_title=article_title)
    app.jinja_env.filters["percent"] = percent


def ticket_url(ticket_system: str, ticket_id: str) -> str | None:
    """The ticket in the ticketing system (KB_TICKET_URL_TEMPLATE), only ever an http(s) URL."""
    template = get_settings().ticket_url_template
    if not template:
        return None
    url = template.replace("{ticket}", quote(ticket_id, safe="")).replace("{system}", quote(ticket_system, safe=""))
    return url if url.startswith(("http://", "https://")) else None


def ticket_label(ticket_system: str, ticket_id: str) -> str:
    """A ticket as people name it: `SD-1043`, or `jira SD-1043` outside the default system."""
    return ticket_id if ticket_system == DEFAULT_TICKET_SYSTEM else f"{ticket_system} {ticket_id}"


def article_title(article_id: str) -> str:
    """An article's title in the current index (its id when it is gone)."""
    found = get_snapshot().by_id.get(article_id)
    return found.title if found is not None else article_id


def percent(value: float | None) -> str:
    """A rate as a whole percentage, or an en dash when there is nothing to divide."""
    return "–" if value is None else f"{value:.0%}"


def record_categories() -> list[str]:
    """Ticket categories a record may name (the vocabulary's), sorted."""
    return sorted(get_snapshot().vocabulary.categories)


def known_user() -> str:
    """The person the reverse proxy names (empty without a proxy user header, or from anyone but the proxy)."""
    return current_user("") if user_from_proxy() else ""


def onboarding_done(path_id: str) -> set[str]:
    """Step ids of one path the known person has done (empty when unknown or unavailable)."""
    person = known_user()
    if not person:
        return set()
    try:
        return get_store().onboarding_done(person).get(path_id, set())
    except DatabaseUnavailableError as exc:
        log.warning("records unavailable for onboarding progress: %s", exc)
        return set()


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
            "ticket_opened": {"type": "string", "format": "date-time",
                              "description": "When the ticket was opened (tells new from known issues)."},
            "subject": {"type": "string", "maxLength": 500,
                        "description": "The ticket's subject: words users used, ranked with the article."},
            "search_id": {"type": "integer", "minimum": 1,
                          "description": "The X-KB-Search-Id of the search (or /api/suggest) that found the article."},
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
                     "source", "note", "created", "ticket_opened", "subject"],
        "properties": {"id": {"type": "integer"}, "ticket_system": _TEXT, "ticket_id": _TEXT, "article_id": _TEXT,
                       "relation": {"type": "string", "enum": list(RELATIONS)}, "category": _TEXT, "user": _TEXT,
                       "created_at": {"type": "string", "format": "date-time"}, "source": _TEXT, "note": _TEXT,
                       "created": {"type": "boolean"},
                       "ticket_opened": {"type": ["string", "null"], "format": "date-time"}, "subject": _TEXT}},
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

"""Ticket records: which articles resolved which tickets, and what the team learns from it.

    db = Database(settings.database_url)          # no connection until first use
    store = RecordStore(db, resolve, categories)  # resolve: id or alias -> current id
    store.record_resolution(article=..., ticket_id=..., category=...)
    Reports(db, articles).kcs(Period.last_days(30, now))
    resolution_boosts(db, resolve, now)           # -> {article id: search multiplier}

Modules: db (engine, sessions, SQLite tuning), models and migrations (schema), store
(recording), reports, ranking (boosts), importer (CSV), validation, errors.
"""

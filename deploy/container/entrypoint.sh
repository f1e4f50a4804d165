#!/bin/sh
# The container's commands:
#   web         gunicorn serving the site (workers sized by memory; deploy/gunicorn.conf.py)
#   sync-watch  kb sync --watch: clone/fetch KB_SYNC_REMOTE, build, swap in, then follow webhook pushes
#   kb ARGS     any kb command, e.g. `kb db upgrade`, `kb check`
# Settings come from KB_ variables; any of them may name a file instead (KB_SECRET_KEY_FILE=/run/secrets/...).
set -eu

case "${1:-web}" in
    web)
        shift || true
        kb db upgrade
        exec gunicorn --config /etc/kb/gunicorn.conf.py "$@" 'web.app:create_app()'
        ;;
    sync-watch)
        shift
        exec kb sync --watch "$@"
        ;;
    kb)
        shift
        exec kb "$@"
        ;;
    *)
        exec "$@"
        ;;
esac

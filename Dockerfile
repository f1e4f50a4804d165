# kb in a container: gunicorn serving the site, or `kb sync --watch` keeping the articles and index fresh
# (one image, two commands; see compose.yaml and docs/operations.md).
#
#   podman build -t kb .            (or docker build)
#   podman run -p 8080:8080 -v kb-articles:/srv/kb/articles -v kb-index:/srv/kb/index -v kb-data:/srv/kb/data kb
#
# BASE: any slim Debian image with Python 3.11+. Where no registry is reachable, build one from Debian's
# packages (what the tests do): mmdebstrap --variant=apt --include=python3,python3-venv,ca-certificates,git,tini \
#   bookworm - | podman import - localhost/kb-base:bookworm; podman build --build-arg BASE=localhost/kb-base:bookworm .
ARG BASE=docker.io/library/python:3.11-slim-bookworm
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LANG=C.UTF-8

# git: kb sync clones and fetches the articles; tini: signals reach gunicorn and kb sync, zombies are reaped.
RUN set -eux; \
    missing=""; \
    for tool in git tini; do command -v "$tool" >/dev/null || missing="$missing $tool"; done; \
    python3 -m venv --help >/dev/null 2>&1 || missing="$missing python3-venv"; \
    if [ -n "$missing" ]; then \
        apt-get update; \
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates $missing; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    groupadd --system --gid 10001 kb; \
    useradd --system --uid 10001 --gid kb --home-dir /srv/kb --no-create-home --shell /usr/sbin/nologin kb; \
    mkdir -p /srv/kb/articles /srv/kb/index /srv/kb/data /srv/kb/metrics; \
    chown -R kb:kb /srv/kb

# Dependencies first (a layer that survives code changes), then kb itself.
COPY pyproject.toml README.md /src/
COPY kb /src/kb
COPY search /src/search
COPY web /src/web
COPY kbcli /src/kbcli
RUN set -eux; \
    python3 -m venv /opt/kb; \
    /opt/kb/bin/pip install --upgrade pip; \
    /opt/kb/bin/pip install /src; \
    rm -rf /src
COPY deploy/gunicorn.conf.py /etc/kb/gunicorn.conf.py
COPY deploy/container/entrypoint.sh /usr/local/bin/kb-entrypoint

ENV PATH=/opt/kb/bin:$PATH \
    KB_ARTICLES_DIR=/srv/kb/articles \
    KB_INDEX_DIR=/srv/kb/index \
    KB_DATABASE_URL=sqlite:////srv/kb/data/records.db \
    KB_BIND=0.0.0.0:8080 \
    PROMETHEUS_MULTIPROC_DIR=/srv/kb/metrics

# The articles checkout (kb sync owns it), the index builds and the SQLite records live on volumes.
VOLUME ["/srv/kb/articles", "/srv/kb/index", "/srv/kb/data"]
USER kb
WORKDIR /srv/kb
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["python3", "-c", "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('KB_BIND', ':8080').rsplit(':', 1)[1] + '/healthz', timeout=4)"]
ENTRYPOINT ["tini", "--", "kb-entrypoint"]
CMD ["web"]

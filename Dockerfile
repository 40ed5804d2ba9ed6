# One image for every service of docker-compose.yml: the code server (which also runs the runs),
# the webserver, the daemon, `overnight serve`, and the distributed mode's Cortex server and Celery
# workers (deploy/gpu-host/ too). It holds the installed package only: the instance
# (deploy/dagster.yaml), overnight.yaml and the secrets (.env) come in at run time, never baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/var/lib/overnight/dagster_home \
    OVERNIGHT_HOME=/var/lib/overnight/home \
    OVERNIGHT_CONFIG=/etc/overnight/overnight.yaml

# git: code review reads and mirrors repositories through it (GitPython runs the git command)
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/overnight
COPY pyproject.toml README.md ./
COPY overnight_assets ./overnight_assets
# the distributed extra (dagster-celery, celery[redis]): the Celery workers run from this image too
RUN pip install ".[distributed]" && rm -rf build
COPY deploy/workspace.yaml ./workspace.yaml

# A user of its own; the named volumes start out owned by it (compose copies the ownership of an
# empty image folder into a new volume).
RUN useradd --create-home --uid 10001 --user-group overnight \
    && mkdir -p "$DAGSTER_HOME" "$OVERNIGHT_HOME" /etc/overnight \
    && chown -R overnight:overnight /var/lib/overnight
USER overnight
WORKDIR /var/lib/overnight

EXPOSE 3000 4000 8765 8766
CMD ["overnight", "--help"]

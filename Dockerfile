# syntax=docker/dockerfile:1
# One image for both roles: `incident-copilot bot` (default) and `incident-copilot worker`.

# The full image has the C compiler that builds the log pipeline's compiled modules (setup.py).
FROM python:3.11-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY workers ./workers
COPY prompts ./prompts
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install . \
    && /opt/venv/bin/python -c "from workers.evidence.tokens import load_encoding; load_encoding('o200k_base'); load_encoding('cl100k_base')"

FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LOG_FORMAT=json \
    PORT=3000
RUN groupadd --system --gid 10001 copilot \
    && useradd --system --uid 10001 --gid copilot --no-create-home --shell /usr/sbin/nologin copilot
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '3000')}/healthz\", timeout=2)"]
ENTRYPOINT ["incident-copilot"]
CMD ["bot"]

# Atelier API image: migrations run on start, then uvicorn serves on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ATELIER_HOST=0.0.0.0 \
    ATELIER_PORT=8000

WORKDIR /srv/atelier
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . \
    && useradd --system --home-dir /srv/atelier atelier \
    && mkdir -p var && chown atelier var
USER atelier

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz'); sys.exit(0)"
CMD ["atelier", "serve"]

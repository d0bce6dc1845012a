# The web console: one part, its pages (gunicorn on VINCULO_CONSOLE_BIND):
#   python -m services.console api
# It talks only to the four services' APIs (VINCULO_CONSOLE_<SERVICE>_URL).
# Build from the repository root: docker build -f deploy/console.Dockerfile .
# Every *.Dockerfile here is this file with the service name and port changed;
# tests/deploy/test_compose_consistency.py keeps them in step with the code.

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VINCULO_CONSOLE_BIND=0.0.0.0:8000
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin vinculo
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Only the common package and this service: services never import each other.
COPY shared/ shared/
COPY services/__init__.py services/__init__.py
COPY services/console/ services/console/
USER vinculo
EXPOSE 8000
# The part's own check, chosen by the command the container runs (shared/healthcheck.py).
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "shared.healthcheck", "console"]
CMD ["python", "-m", "services.console", "api"]

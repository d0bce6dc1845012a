# The listener service: one image runs every part, chosen by the command:
#   python -m services.listener api      (default: gunicorn on VINCULO_LISTENER_BIND)
#   python -m services.listener poller   (metrics on VINCULO_LISTENER_METRICS_PORT, default 9100)
#   python -m services.listener stream   (metrics on VINCULO_LISTENER_METRICS_PORT, default 9100)
# Build from the repository root: docker build -f deploy/listener.Dockerfile .
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
    VINCULO_LISTENER_METRICS_PORT=9100 \
    VINCULO_LISTENER_BIND=0.0.0.0:8004
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin vinculo
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Only the common package and this service: services never import each other.
COPY shared/ shared/
COPY services/__init__.py services/__init__.py
COPY services/listener/ services/listener/
USER vinculo
EXPOSE 8004
# The part's own check, chosen by the command the container runs (shared/healthcheck.py).
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "shared.healthcheck", "listener"]
CMD ["python", "-m", "services.listener", "api"]

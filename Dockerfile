# One image for every process type (the API with the dashboard, CLI jobs, Celery worker, Celery beat), CPU
# only: xgboost-cpu instead of xgboost (no CUDA wheels), torch left out (the `lstm` extra is opt-in).

# --- dashboard: the Next.js static export (frontend/out), built from the committed lock file ----------
FROM node:20-slim AS dashboard
ENV NEXT_TELEMETRY_DISABLED=1
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json frontend/.npmrc ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- build: resolve and install the locked dependencies into /opt/venv -----------------------------
FROM python:3.11-slim AS build
ENV PYTHONDONTWRITEBYTECODE=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv
WORKDIR /app
# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY backend ./backend
# UV_COMPILE_BYTECODE compiles the dependencies; the project's own code needs it too, or every CLI command
# and task process compiles `backend` from source again (PYTHONDONTWRITEBYTECODE: nothing is cached).
RUN uv sync --frozen --no-dev && python -m compileall -q --invalidation-mode unchecked-hash backend

# --- runtime: the venv and the code, no build tools ------------------------------------------------
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH="/opt/venv/bin:$PATH" \
    DATA_DIR=/data PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus
# libgomp: the OpenMP runtime LightGBM and XGBoost load.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 tft && mkdir -p /data /tmp/prometheus \
    && chown tft /data /tmp/prometheus
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app/backend ./backend
COPY migrations ./migrations
COPY alembic.ini README.md ./
# Only the built dashboard: the API serves it at / (API__STATIC_DIR defaults to /app/frontend/out).
COPY --from=dashboard /frontend/out ./frontend/out
USER tft
CMD ["tft-trader", "--help"]

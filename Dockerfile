# ff: one image for `ff api` (the default command) and `ff dashboard`.
#
#   docker build -t ff .
#   docker run -p 8080:8080 -e FF_REGION=eu-west-1 -e FF_KEY_SECRET=... ff
#   docker run -p 3000:3000 -e FF_REGION=eu-west-1 -e FF_KEY_SECRET=... -e FF_AUTH=oidc \
#       -e FF_OIDC_ISSUER=... -e FF_OIDC_CLIENT_ID=... -e FF_OIDC_CLIENT_SECRET=... \
#       -e FF_PUBLIC_URL=https://flags.example.com \
#       -e FF_HEALTHCHECK_URL=http://127.0.0.1:3000/ping ff dashboard
#
# Base images are pinned to exact releases; pin their digests in your own registry.
# Nothing is downloaded outside PyPI and npm. Without a Docker engine,
# scripts/docker-dry-run runs the build stage's steps in a temporary directory.

FROM node:20.19.5-bookworm-slim AS node

FROM python:3.11.14-slim-bookworm AS build
# Node 20 and npm only to install bun (the npm package ships the binary) and run the
# dashboard's frontend build; the final image has neither.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
COPY pyproject.toml constraints.txt README.md rxconfig.py ./
COPY ff_core ff_core
COPY ff_api ff_api
COPY ff_admin ff_admin
# Editable, with the pinned transitive set: `ff dashboard` runs Reflex in the folder
# that holds rxconfig.py, which is /app.
RUN python -m venv /opt/ff \
 && /opt/ff/bin/pip install --no-cache-dir --disable-pip-version-check \
        -c constraints.txt -e .
RUN npm install --no-audit --no-fund --prefix=.tools bun@1.4.4
ENV PATH=/app/.tools/node_modules/.bin:/opt/ff/bin:$PATH \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_TELEMETRY_ENABLED=false
# Compile the dashboard and build its frontend now: a broken build fails the image, and
# .web keeps the installed frontend packages, so a container starts offline. (Reflex
# 0.10 still recompiles at `reflex run --env prod`, for the port and URL of that run.)
RUN reflex export --frontend-only --no-zip --env prod

FROM python:3.11.14-slim-bookworm
RUN groupadd --gid 10001 ff \
 && useradd --uid 10001 --gid 10001 --create-home ff
COPY --from=build /opt/ff /opt/ff
COPY --from=build --chown=10001:10001 /app /app
ENV PATH=/app/.tools/node_modules/.bin:/opt/ff/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REFLEX_USE_SYSTEM_BUN=1 \
    REFLEX_TELEMETRY_ENABLED=false \
    FF_API_HOST=0.0.0.0 \
    FF_ADMIN_HOST=0.0.0.0 \
    FF_LOG_FORMAT=json
USER 10001:10001
WORKDIR /app
EXPOSE 8080 3000
# No curl in a slim image: Python asks /healthz (the dashboard: FF_HEALTHCHECK_URL=.../ping).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; r.urlopen(os.environ.get('FF_HEALTHCHECK_URL') or 'http://127.0.0.1:%s/healthz' % os.environ.get('FF_API_PORT', '8080'), timeout=2)"]
ENTRYPOINT ["ff"]
CMD ["api"]

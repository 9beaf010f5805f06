# Switchyard's image: the daemon and its control commands, nothing else. In the sidecar layout the
# proxy runs in its own container and Switchyard checks and reloads it through the Docker API, so
# no HAProxy or nginx binary is needed here. docs/image.md: size, user, Docker socket access.
#
#   docker build -t switchyard .
#   docker run --rm switchyard --help
#
# Works with the classic builder and BuildKit alike (no BuildKit-only syntax).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: compile TypeScript with the full toolchain ------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# `npm ci` when the lock file is complete. A lock file made behind a registry that serves only this
# platform's optional binaries lacks the other platforms' entries, and `npm ci` refuses it; then the
# locked versions are installed with `npm install`, saying so (docs/image.md, "Lock file").
RUN npm ci --no-audit --no-fund --loglevel=error \
 || { echo '*** npm ci refused package-lock.json; installing the locked versions with npm install --no-save' >&2; \
      npm install --no-save --no-audit --no-fund --loglevel=error; }
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# Only the daemon's sources: the benchmarks (and the test helpers they use) are not part of the image.
RUN echo '{ "extends": "./tsconfig.build.json", "include": ["src"] }' >tsconfig.image.json \
 && npx tsc -p tsconfig.image.json

# --- deps: production dependencies only ----------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN { npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
   || { echo '*** npm ci refused package-lock.json; installing the locked versions with npm install --no-save' >&2; \
        npm install --omit=dev --ignore-scripts --no-save --no-audit --no-fund --loglevel=error; }; } \
 && rm -rf /root/.npm

# --- runtime ---------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="switchyard" \
      org.opencontainers.image.description="Zero-downtime blue-green and canary deployments of Docker containers with Consul and HAProxy or nginx" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.documentation="docs/image.md" \
      org.opencontainers.image.base.name="docker.io/library/node:24-bookworm-slim"

# A fixed, high uid/gid that matches no host account, so files it writes to shared volumes are
# recognisably its own and grant nothing on the host.
RUN groupadd --gid 10001 switchyard \
 && useradd --uid 10001 --gid switchyard --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin switchyard

WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY templates ./templates
COPY package.json ./
COPY docker/entrypoint.sh /usr/local/bin/switchyard-entrypoint
COPY docker/healthcheck.mjs /app/healthcheck.mjs
# `switchyard …` inside the container (docker compose exec switchyard switchyard status) goes through
# the same entrypoint, so it never runs as root either. The proxy-config folder is where the demo
# mounts the volume it shares with the proxy; owned by switchyard so a fresh volume is writable.
RUN ln -s switchyard-entrypoint /usr/local/bin/switchyard \
 && mkdir -p /var/lib/switchyard/proxy && chown -R 10001:10001 /var/lib/switchyard
ENV NODE_ENV=production

USER 10001:10001
EXPOSE 9720
# /healthz on the daemon's HTTP port; set the port with SWITCHYARD_HTTP_LISTEN (not the flag) so
# this check finds it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["node", "/app/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["switchyard-entrypoint"]
CMD ["run"]

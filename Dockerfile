# syntax=docker/dockerfile:1
# ortserve image: `docker run -p 8080:8080 IMAGE` serves the bundled models in /app/models.
# Three stages on one pinned base: production dependencies, the TypeScript build, and the runtime that takes
# only node_modules (without devDependencies), dist/ and the models from them. Checked statically by
# test/deploy/dockerfile.test.ts (no Docker engine runs where the tests run); see docs/deployment.md.

# ---- production dependencies only -------------------------------------------------------------------------
FROM node:20.20.2-bookworm-slim AS deps
WORKDIR /app
# .npmrc before npm ci: it sets onnxruntime-node-install=skip, so the install script does not try to download
# CUDA files (the CPU runtime ships inside the npm package).
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- TypeScript build ---------------------------------------------------------------------------------------
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The operator console: browser sources bundled by esbuild into dist/console (no CDN at run time).
COPY console ./console
COPY scripts/build-console.mjs ./scripts/
# dist/main.js and dist/runtime/session-worker.js (the worker thread entry) among the rest.
RUN npm run build

# ---- runtime --------------------------------------------------------------------------------------------------
FROM node:20.20.2-bookworm-slim AS runtime
# No NODE_ENV=production here, so that `docker run -p 8080:8080 IMAGE` serves the bundled models (it signs with a
# random secret and prints a token). Deployments set NODE_ENV=production with a JWT key (k8s/base/configmap.yaml).
ENV HOST=0.0.0.0 \
    PORT=8080 \
    MODEL_REPOSITORY=/app/models
WORKDIR /app
# A numeric uid/gid, so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
RUN groupadd --system --gid 10001 ortserve \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ortserve
# Code and dependencies stay owned by root (the server cannot change them); package.json carries "type": "module".
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The bundled model repository. The server writes into its repository (uploads, .ortserve/ lifecycle state) and
# nowhere else, so only this folder belongs to the runtime user. With a read-only root filesystem, mount a
# writable volume and point MODEL_REPOSITORY at it (docs/deployment.md).
COPY --chown=10001:10001 models ./models
USER 10001:10001
EXPOSE 8080
# Readiness, not liveness: 503 while models load or while draining. No curl in the slim image, so node asks.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/v2/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# node itself is PID 1's command (exec form, no shell, not npm start): SIGTERM reaches the server, which turns
# readiness to 503, finishes in-flight requests and exits within SHUTDOWN_TIMEOUT_MS.
CMD ["node", "dist/main.js"]

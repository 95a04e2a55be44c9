# syntax=docker/dockerfile:1
# The project's default connector image: `flyte-connector serve` (gRPC on 8000, Prometheus metrics on 9090) with the
# built-in echo/sleep connectors and every connector package of this repository (connectors/*), which the service
# discovers through their "flyteConnectors" field. Extend it with Image.fromBase("<this image>").withNpmPackages(...).
#
#   docker build -t flyte-connectors:0.1.0 .
#   docker run --rm -p 8000:8000 -p 9090:9090 flyte-connectors:0.1.0
ARG NODE_VERSION=20

# ---- build: all dependencies, compile every workspace, then drop the dev dependencies ----
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY . .
# npm ci installs dev dependencies too and runs the root "prepare" script, i.e. `npm run build`
# (packages/flyteidl2/build.mjs copies the TypeScript of @flyteorg/flyteidl2, packages/flyteidl/build.mjs generates
# Flyte 1's agent services from @flyteorg/flyteidl's .proto files with buf + protoc-gen-es, then `tsc -b`).
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
# Production dependencies only. Pruning the built tree, not `npm ci --omit=dev` in a fresh stage: that would run
# "prepare" again, which needs the dev-only TypeScript compiler. Compiled tests, build info and the copied
# flyteidl sources are not needed at run time.
RUN npm prune --omit=dev --no-audit --no-fund \
 && find packages connectors examples -path '*/node_modules' -prune -o \( -name '*.test.*' -o -name '*.tsbuildinfo' \) -type f -print0 | xargs -0 rm -f \
 && rm -rf packages/flyteidl2/src packages/flyteidl/src test scripts

# ---- runtime ----
FROM node:${NODE_VERSION}-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="flyte-connectors" \
      org.opencontainers.image.description="Flyte 2 connector service (TypeScript): flyteidl2 AsyncConnectorService, ConnectorMetadataService and grpc.health.v1" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
# Non-root (the distroless "nonroot" uid); the files stay root-owned and read-only for it.
USER 65532:65532
EXPOSE 8000 8090 9090
# Exec form, no shell and no init: node is PID 1 and gets SIGTERM directly; flyte-connector handles it (health
# NOT_SERVING, GOAWAY, drains calls for --grace-period, exits 0). Extra `docker run` arguments are serve flags.
ENTRYPOINT ["node", "packages/service/bin/flyte-connector.js", "serve"]

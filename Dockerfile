# syntax=docker/dockerfile:1
# The API of docker-compose.full.yml: serverless-offline serving every function, exactly as `npm start` does
# with DATABASE_URL set (migrations, seed, then offline). `docker build -t serverless-shop-api .`

# Debian slim, as CI: the lockfile's native packages (@esbuild/*, @parcel/watcher-*) resolve to their glibc
# builds, the ones the suite runs with.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# The workspace's manifest is part of the install (npm links the package into node_modules).
COPY packages/middy-pushgateway/package.json ./packages/middy-pushgateway/
# serverless-offline, osls and serverless-esbuild serve the API here and are devDependencies, so the whole
# tree is installed. Install scripts are skipped: esbuild runs from its platform package without its
# postinstall, @parcel/watcher ships prebuilt binaries, and es5-ext's only prints a message.
RUN npm ci --ignore-scripts --no-audit --no-fund
# Our own postinstall, skipped above: failed invocations answered as 5xx, not 200 (scripts/offline-patch.ts),
# and the metrics package built to dist/, as the shop imports it.
COPY scripts/offline-patch.ts ./scripts/
RUN node scripts/offline-patch.ts
COPY packages/middy-pushgateway/tsconfig.json packages/middy-pushgateway/declarations.mjs ./packages/middy-pushgateway/
COPY packages/middy-pushgateway/src ./packages/middy-pushgateway/src
RUN npm run build --workspace middy-pushgateway

FROM node:24-bookworm-slim AS runtime
WORKDIR /app
# The node user owns /app so that offline can write its bundles (.esbuild/); the code and node_modules stay
# root's, read-only to the server.
RUN chown node:node /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/packages ./packages
COPY package.json serverless.yml tsconfig.json ./
COPY functions ./functions
COPY lib ./lib
COPY scripts/start.ts scripts/esbuild-plugins.cjs scripts/offline-patch.ts ./scripts/
# serverless.yml takes offline's listen address from HTTP_HOST: all interfaces, so nginx can reach it.
ENV HTTP_HOST=0.0.0.0 HTTP_PORT=3000 LAMBDA_PORT=3002
USER node
EXPOSE 3000
# /healthz answers 200 while the database answers (degraded without Redis or the gateway), 503 without it.
# Offline bundles every function before it listens: allow for that at start.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + process.env.HTTP_PORT + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Run under an init that signals the whole process group (compose: `init: true` and
# TINI_KILL_PROCESS_GROUP=1): start.ts passes SIGTERM on to npx only, not to offline beneath it.
CMD ["node", "scripts/start.ts"]

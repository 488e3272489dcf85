# syntax=docker/dockerfile:1
# order-ledger: build with the full toolchain, run with production dependencies only, as non-root.
# Dependencies first, so a change under src/ reuses this layer.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/prepare.js ./scripts/prepare.js
# Install scripts are skipped here: prepare would build before the sources exist, and native modules
# load their prebuilt binaries at run time.
RUN npm ci --no-audit --no-fund --ignore-scripts

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
RUN npm run build

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    MAIL_OUTBOX_DIR=/data/mail-outbox \
    ENV_FILE=none
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/prepare.js ./scripts/prepare.js
# prepare finds no compiler in a production install and skips the build; dist/ comes from the build stage.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY --from=build /app/dist ./dist
# The only place the process writes (the .eml outbox when SMTP_URL is unset).
RUN mkdir -p /data/mail-outbox && chown -R node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.OPS_PORT || process.env.PORT || 3000}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]

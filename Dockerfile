# bftlab validator / load generator image.
#
# The runtime is this image's Node 22 (>= 22.18 strips TypeScript types by default, so the .ts
# sources run as they are; on an older 22.x add NODE_OPTIONS=--experimental-strip-types). The
# `node` devDependency that pins Node 22 on development machines is therefore not installed here.
FROM node:22-slim

WORKDIR /app

# Production dependencies only. sodium-native, classic-level and msgpackr-extract ship prebuilt
# linux-x64/arm64 glibc binaries, so no compiler toolchain is needed in the image.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY src ./src
COPY configs ./configs

# LevelDB lives in /data (a named volume per validator in docker-compose.yml). Created here and
# owned by the unprivileged user, so a fresh volume inherits that ownership.
RUN mkdir -p /data /app/testnet && chown node:node /data /app/testnet

USER node

# 9000: libp2p (TCP), 8000: HTTP API and /metrics.
EXPOSE 9000 8000

ENTRYPOINT ["node", "src/cli/bftlab.ts"]
CMD ["--help"]

# bftlab validator / load generator image.
#
# BASE_IMAGE defaults to the official node:22-slim. Machines that reach no image registry build
# a local stand-in with the same layout (Debian bookworm, Node 22, npm, user `node` uid 1000):
# `npx node test/docker/images.ts` (builds it, then this image), or by hand `docker build --network host --build-arg
# BASE_IMAGE=bftlab-base:bookworm-node22 .` (the docker suite, `npm run test:docker`, does both).
#
# The runtime is the base image's Node 22 (>= 22.18 strips TypeScript types by default, so the .ts
# sources run as they are; on an older 22.x add NODE_OPTIONS=--experimental-strip-types). The
# `node` devDependency that pins Node 22 on development machines is therefore not installed here.
#
# No validator key is ever in the image: .dockerignore admits only the sources, the lockfile and
# the experiment files, and keys reach a container from the generated configs it mounts
# (`bftlab compose`) or from a Kubernetes Secret (`bftlab k8s`).
ARG BASE_IMAGE=node:22-slim
FROM ${BASE_IMAGE}

WORKDIR /app

# Production dependencies only. sodium-native, classic-level and msgpackr-extract ship prebuilt
# linux-x64/arm64 glibc binaries, so no compiler toolchain is needed in the image.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Everything the CLI imports is under src/ (the bin reaches nothing outside it); the experiment
# files let `bftlab bench --experiment configs/experiments/…` run in a container too.
COPY src ./src
COPY configs/experiments ./configs/experiments

# LevelDB lives in /data (a named volume per validator in docker-compose.yml), results of the load
# generator in /app/results. Created here and owned by the unprivileged user, so a fresh volume
# mounted there inherits that ownership.
RUN mkdir -p /data /app/testnet /app/results && chown node:node /data /app/testnet /app/results

USER node

# 9000: libp2p (TCP), 8000: HTTP API and /metrics.
EXPOSE 9000 8000

ENTRYPOINT ["node", "src/cli/bftlab.ts"]
CMD ["--help"]

# The quickmig worker (and CLI) image. The worker is the only component that holds vSphere
# credentials; they come in as files (compose/Kubernetes secrets), never as environment literals.
#
#   docker build -t quickmig .
#   docker run --rm -v $PWD/deploy/worker.json:/etc/quickmig/worker.json:ro \
#     -e TEMPORAL_ADDRESS=temporal:7233 quickmig
#
# Node 24 (LTS "Krypton", supported to April 2028); the code also runs on Node 20.3+ (package.json engines),
# which is what the tests run on. The tag is pinned to a patch release so that a rebuild is the same image;
# raise it deliberately (test/deploy checks that it stays pinned and on a supported major).
FROM node:24.17.0-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY bin ./bin
COPY scripts ./scripts
COPY src ./src
COPY schema ./schema
COPY tsconfig.json ./
# The CLI and the worker run plain JavaScript from dist/ (esbuild, scripts/build.mjs): no TypeScript
# loader in the process. Built here because the running user cannot write /app.
RUN node scripts/build.mjs

USER node
# A young generation of 2 MiB semi-spaces: copies hand the TLS layer a buffer per MiB, which only a
# scavenge frees; scavenging often keeps the worker's RSS about 50 MiB lower at the same throughput
# (bench/TUNING.md, third round).
ENV NODE_OPTIONS=--max-semi-space-size=2
# Two malloc arenas instead of eight per core: the worker's threads (the download thread, libuv's pool, the
# Temporal core's runtime) otherwise each keep freed buffers in an arena of their own; about 15 MiB less
# at the same throughput (bench/TUNING.md, fourth round).
ENV MALLOC_ARENA_MAX=2
# Blocks of 128 KiB and more straight from mmap, returned to the system when freed. glibc otherwise raises
# this threshold the first time such a block is freed, and from then on keeps copy and TLS buffers in its
# arenas, which the worker's small long-lived allocations then pin: the arenas crept by tens of MiB over
# many migrations (bench/TUNING.md, fifth round).
ENV MALLOC_MMAP_THRESHOLD_=131072
# Prometheus metrics (quickmig worker --metrics-port / QUICKMIG_METRICS_PORT).
EXPOSE 9464
# Alive while the worker's metrics endpoint answers (scripts/healthcheck.mjs; `--ready` also needs a poller on
# a task queue). Without QUICKMIG_METRICS_PORT there is nothing to probe and the check says so and fails.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 CMD ["node", "scripts/healthcheck.mjs"]
# --optimize-for-size: V8 collects the old generation before it grows far past what is live. Without it the
# worker's JS heap (about 35 MiB live) grew to 70 MiB of garbage during an 8 GiB copy (bench/TUNING.md,
# fifth round).
ENTRYPOINT ["node", "--optimize-for-size", "bin/quickmig.js"]
CMD ["worker", "--config", "/etc/quickmig/worker.json"]

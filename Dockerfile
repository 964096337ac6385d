# One image for the Warren broker, its CLI and the examples; docker-compose.yml
# runs the broker and the task-api example from it.
#
#   docker build -t warren .
#   docker run -d --hostname warren -p 5680:5680 -v warren-data:/data -e WARREN_USER=app -e WARREN_PASSWORD=change-me warren
#
# Two stages: `build` installs every dependency and compiles the packages; the
# runtime stage has production dependencies only (no TypeScript, vitest,
# type packages) and the compiled output. The broker refuses to start without
# a user (WARREN_REQUIRE_USER): the built-in guest cannot log in from outside
# the container.

# --- build -----------------------------------------------------------------
FROM node:20-slim AS build
WORKDIR /app

# Dependencies first (every workspace's package.json), so that editing sources
# does not reinstall them. --ignore-scripts: the root "prepare" script is the
# build, which needs the sources copied below; it runs explicitly afterwards.
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/console/package.json packages/console/
COPY packages/broker/package.json packages/broker/
COPY packages/client/package.json packages/client/
COPY packages/tasks/package.json packages/tasks/
COPY packages/cli/package.json packages/cli/
COPY bench/package.json bench/
COPY examples/package.json examples/
RUN npm ci --ignore-scripts

COPY tsconfig.json tsconfig.base.json ./
COPY packages/ packages/
RUN npm run build

# --- runtime ---------------------------------------------------------------
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production

COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/console/package.json packages/console/
COPY packages/broker/package.json packages/broker/
COPY packages/client/package.json packages/client/
COPY packages/tasks/package.json packages/tasks/
COPY packages/cli/package.json packages/cli/
COPY bench/package.json bench/
COPY examples/package.json examples/
# Production dependencies only (tsx stays: the examples' own dependency, they run with it).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

COPY --from=build /app/packages/protocol/dist packages/protocol/dist
# The web console: static files built by esbuild, and the index.js naming their folder.
COPY --from=build /app/packages/console/dist packages/console/dist
COPY packages/console/index.js packages/console/index.d.ts packages/console/
COPY --from=build /app/packages/broker/dist packages/broker/dist
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/packages/tasks/dist packages/tasks/dist
COPY --from=build /app/packages/cli/dist packages/cli/dist
COPY packages/cli/bin packages/cli/bin
COPY examples/ examples/

# The data folder belongs to the unprivileged user; a named volume mounted on
# /data starts out with this ownership.
RUN mkdir -p /data && chown node:node /data

# The node image's unprivileged user (uid 1000).
USER node
ENV WARREN_DATA_DIR=/data \
    WARREN_REQUIRE_USER=true
# 5680 warren, 5681 warrens (TLS), 15680 the management API and web console (HTTPS with TLS).
EXPOSE 5680 5681 15680
# Node flags as `npm start` (package.json; README, "npm start" says why).
CMD ["node", "--max-semi-space-size=64", "--initial-old-space-size=64", "packages/cli/dist/bin.js", "server"]

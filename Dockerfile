# One image for the Warren broker, its CLI and the examples; docker-compose.yml
# runs the broker and the task-api example from it.
#
#   docker build -t warren .
#   docker run -p 5680:5680 -v warren-data:/data warren \
#     node packages/cli/dist/bin.js server --user app:change-me
FROM node:20-slim

WORKDIR /app

# Dependencies first (every workspace's package.json), so that editing sources
# does not reinstall them. --ignore-scripts: the root "prepare" script is the
# build, which needs the sources copied below; it runs explicitly afterwards.
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/broker/package.json packages/broker/
COPY packages/client/package.json packages/client/
COPY packages/cli/package.json packages/cli/
COPY bench/package.json bench/
RUN npm ci --ignore-scripts

COPY tsconfig.json tsconfig.base.json ./
COPY packages/ packages/
COPY examples/ examples/
# The data folder belongs to the unprivileged user; a named volume mounted on
# /data starts out with this ownership.
RUN npm run build \
 && mkdir -p /data \
 && chown node:node /data

# The node image's unprivileged user (uid 1000).
USER node
ENV WARREN_DATA_DIR=/data
EXPOSE 5680
CMD ["node", "--max-semi-space-size=64", "packages/cli/dist/bin.js", "server"]

# The Segell API with everything it runs, the sandboxes' contract compiler included. `docker compose up` runs it with
# anvil and PostgreSQL (docker-compose.yml).

# Stage 1, the Solidity toolchain: the pinned compiler (npm's build of solc) and OpenZeppelin's sources, exactly as
# package-lock.json pins them. Only package.json's dependencies: its devDependencies are development tools (anvil
# runs in an image of its own).
FROM node:24-bookworm-slim AS toolchain
WORKDIR /opt/segell-toolchain
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY tools/solc ./tools/solc

# Stage 2, the API. Node runs tools/solc; the toolchain stage's Node is built for the same Debian release.
FROM python:3.11-slim-bookworm
COPY --from=toolchain /usr/local/bin/node /usr/local/bin/node
COPY --from=toolchain /opt/segell-toolchain /opt/segell-toolchain
WORKDIR /app
COPY pyproject.toml README.md ./
COPY chain ./chain
COPY services ./services
COPY sdk ./sdk
COPY segell ./segell
COPY contracts/artifacts ./contracts/artifacts
# A regular install: the artifacts, pages and migrations are package data; the SDK is its own distribution.
RUN pip install --no-cache-dir ./sdk .
# A user of its own, with anvil's uid (the foundry image runs as `foundry`, uid 1000): the API talks to anvil through
# its IPC socket, which only the socket's owner may write to. docker-compose.yml gives the volumes to this uid.
RUN useradd --uid 1000 --user-group --no-create-home --home-dir /data --shell /usr/sbin/nologin segell \
    && mkdir /data && chown segell:segell /data && chmod 700 /data
ENV SEGELL_HOME=/data SEGELL_HOST=0.0.0.0 SEGELL_TOOLCHAIN_DIR=/opt/segell-toolchain
USER segell
VOLUME /data
EXPOSE 8000
CMD ["segell", "up"]

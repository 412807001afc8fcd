# mechamental in a container: the single executable, run as a non-root user, data on a volume.
#
#   docker build -t mechamental .
#   docker run -d --name mechamental -p 127.0.0.1:8080:8080 -v mechamental-data:/data mechamental
#   docker exec mechamental mechamental tokens create --app default --name "CI/CD Pipeline" --expires 30d
#   docker exec -it mechamental mechamental tui

# --- build: the same executable `npm run build` makes anywhere (Node 20 + better-sqlite3 compiled here;
# this image has python3, make, g++ and strip).
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build -- --skip-figures && ./dist/mechamental --version

# --- run: glibc and libstdc++ are all the executable needs.
FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 mechamental \
 && useradd --system --uid 10001 --gid mechamental --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mechamental \
 && mkdir -p /data /var/cache/mechamental \
 && chown mechamental:mechamental /data /var/cache/mechamental \
 && chmod 0700 /data /var/cache/mechamental
COPY --from=build /src/dist/mechamental /usr/local/bin/mechamental
# MM_CACHE_DIR: where the SQLite native addon is extracted on first start (the user has no home).
ENV MM_DATA_DIR=/data \
    MM_HOST=0.0.0.0 \
    MM_PORT=8080 \
    MM_CACHE_DIR=/var/cache/mechamental
USER mechamental:mechamental
WORKDIR /data
VOLUME /data
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["mechamental", "healthcheck"]
ENTRYPOINT ["mechamental"]
CMD ["serve"]

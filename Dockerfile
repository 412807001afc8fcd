# mechamental in a container: the single executable on a minimal root filesystem, run as uid 10001,
# with the data on a volume. docs/container.md has the whole story; scripts/container-test.sh builds
# this file and checks the image.
#
#   docker build -t mechamental .
#   docker run -d --name mechamental -p 127.0.0.1:8080:8080 -v mechamental-data:/data mechamental
#   docker exec mechamental mechamental tokens create --app default --name "CI/CD Pipeline" --expires 30d
#   docker exec -it mechamental mechamental tui
#
# Podman and buildah: build with `--format docker` (podman build --format docker -t mechamental .).
# Their default OCI image format has no HEALTHCHECK and silently drops it.
#
# Targets: the default (last) stage `runtime` is FROM scratch: the executable, the shared libraries it
# links against and nothing else (no shell). `--target runtime-debian` builds it on debian:bookworm-slim
# instead, for `command` pipelines that need a shell or other programs beside the executable.
#
# The base images are build arguments, e.g. for a registry mirror or a pinned digest:
#   --build-arg BUILD_IMAGE=mirror.example/library/node:20-bookworm@sha256:…
ARG BUILD_IMAGE=node:20-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- build: the same executable `npm run build` makes anywhere (Node 20 + better-sqlite3 compiled here;
# this image has python3, make, g++ and strip).
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# npm ci's postinstall patches the PostgreSQL driver and Ink (build/postinstall.mjs: POSTGRES_NEXT_WRITE, INK_FRAME_CACHES).
COPY build/postinstall.mjs build/patches.mjs ./build/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build -- --skip-figures && ./dist/mechamental --version
# The root filesystem of the scratch runtime, assembled here where there is a shell:
#   /runtime-root   root-owned: the shared libraries that ldd lists for the executable and for the
#                   SQLite addon it extracts at run time (glibc, libstdc++, libgcc_s, libm and the
#                   loader: what `ldd dist/mechamental` shows), /etc/passwd and /etc/group with the
#                   user, /etc/nsswitch.conf (hosts from /etc/hosts first), /tmp.
#   /runtime-owned  the two directories uid 10001 owns, mode 0700: /data and the addon cache.
# No CA certificates: Node verifies TLS against its own bundled roots (NODE_EXTRA_CA_CERTS adds a
# private CA), never against /etc/ssl.
RUN set -eu; \
    root=/runtime-root; \
    mkdir -p "$root/etc" "$root/tmp" "$root/var/cache" "$root/usr/local/bin"; \
    chmod 1777 "$root/tmp"; \
    ldd_output="$(ldd dist/mechamental; ldd node_modules/better-sqlite3/build/Release/better_sqlite3.node)"; \
    if printf '%s\n' "$ldd_output" | grep -q 'not found'; then printf '%s\n' "$ldd_output" >&2; exit 1; fi; \
    for lib in $(printf '%s\n' "$ldd_output" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do \
      cp --parents --dereference "$lib" "$root"; \
    done; \
    printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' 'mechamental:x:10001:10001:mechamental:/nonexistent:/usr/sbin/nologin' > "$root/etc/passwd"; \
    printf '%s\n' 'root:x:0:' 'mechamental:x:10001:' > "$root/etc/group"; \
    printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' > "$root/etc/nsswitch.conf"; \
    mkdir -p -m 0700 /runtime-owned/root/data /runtime-owned/cache/mechamental

# --- runtime on Debian: the same executable on debian:bookworm-slim (`--target runtime-debian`).
FROM ${RUNTIME_IMAGE} AS runtime-debian
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
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["mechamental", "healthcheck"]
ENTRYPOINT ["mechamental"]
CMD ["serve"]

# --- runtime (the default): FROM scratch, with only what the executable needs.
FROM scratch AS runtime
COPY --from=build /runtime-root/ /
# Copying a directory's contents (the trailing slash) brings data/ and mechamental/ themselves, with
# their mode 0700; --chown makes uid 10001 their owner, and leaves / and /var/cache to root.
COPY --from=build --chown=10001:10001 /runtime-owned/root/ /
COPY --from=build --chown=10001:10001 /runtime-owned/cache/ /var/cache/
COPY --from=build /src/dist/mechamental /usr/local/bin/mechamental
# MM_CACHE_DIR: where the SQLite native addon is extracted on first start (the user has no home).
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    MM_DATA_DIR=/data \
    MM_HOST=0.0.0.0 \
    MM_PORT=8080 \
    MM_CACHE_DIR=/var/cache/mechamental
# Numeric, so that a runtime can verify it is not root without an /etc/passwd lookup
# (Kubernetes' runAsNonRoot refuses a named user).
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 CMD ["mechamental", "healthcheck"]
ENTRYPOINT ["mechamental"]
CMD ["serve"]

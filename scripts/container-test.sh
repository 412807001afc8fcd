#!/usr/bin/env bash
# The container image, really built and run (issue 17; docs/container.md).
#
# Builds the Dockerfile with podman and runs the image the way an operator does, checking what they
# would notice: /healthz answers from the host; a token made with `podman exec … tokens create`
# triggers a pipeline from the host; the server runs as uid 10001; names resolve (from /etc/hosts and
# DNS); the HEALTHCHECK passes; a backup made in the container can be copied out; `podman stop`
# returns 0 within 10 s and its SIGTERM ends an open SSE stream with `run.failed` `shutting_down`; the
# data survives replacing the container (same volume, owned by uid 10001, /data 0700); restoring the
# backup brings back the backed-up state; the image runs with a read-only root filesystem. Both
# targets are checked: the default (FROM scratch) and `runtime-debian`. Prints the image sizes.
# Removes its containers, volumes and temporary files, also when a check fails.
#
# Base images cannot be pulled everywhere (not on the machines this project is built on), so when the
# Dockerfile's base images are absent the script makes local stand-ins from Debian packages with
# mmdebstrap and imports them under the exact FROM names (see make_stand_in). They stay cached in
# podman's storage (labelled io.mechamental.stand-in), as do the build's layers: a re-run only
# rebuilds what changed. An image under a FROM name that this script did not make is used as it is.
#
# Usage: scripts/container-test.sh [options]
#   --install-tools        apt-get install what is missing (podman, runc, mmdebstrap, uidmap,
#                          slirp4netns, fuse-overlayfs, curl)
#   --skip-if-no-podman    when podman cannot run containers here: say so in a banner and exit 0
#                          (without it: exit 3). A failing check always exits 1.
#   --print-commands       print the operator's commands (docs/container.md shows exactly these) and exit
#   --remove-stand-ins     remove the stand-in base images and the test images, then exit
#
# Needs root (rootful podman: the checks read /proc and the volume's directory on the host).
# Podman here runs with a private containers.conf (CONTAINERS_CONF; nothing under /etc changes): runc,
# and rlimits no higher than this shell's own, which runc could not set otherwise.
set -euo pipefail
export LC_ALL=C # "1.25", not "1,25", in $EPOCHREALTIME

readonly REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly STAND_IN_LABEL=io.mechamental.stand-in
# Bump when make_stand_in changes what it puts into a stand-in: cached stand-ins are then remade.
readonly STAND_IN_RECIPE=3
readonly DEBIAN_SUITE=bookworm
readonly DEBIAN_MIRROR="${MM_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly DEBIAN_SECURITY_MIRROR="${MM_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
readonly TEST_IMAGE=localhost/mechamental-container-test
readonly TOOLS_PACKAGES=(podman runc mmdebstrap uidmap slirp4netns fuse-overlayfs curl ca-certificates)
# `podman stop` must return within this many seconds (podman's own default grace period is 10 s).
readonly STOP_LIMIT_SECONDS=10

install_tools=0 skip_if_no_podman=0 print_commands=0 remove_stand_ins=0
for argument in "$@"; do
  case "$argument" in
    --install-tools) install_tools=1 ;;
    --skip-if-no-podman) skip_if_no_podman=1 ;;
    --print-commands) print_commands=1 ;;
    --remove-stand-ins) remove_stand_ins=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "container-test.sh: unknown option $argument (see --help)" >&2; exit 2 ;;
  esac
done

# ---------------------------------------------------------------------------------------------------
# The operator's commands. docs/container.md shows these lines exactly (with its names: image
# mechamental, container mechamental, volume mechamental-data, port 8080; a test compares them), and
# the checks below run these very lines with names of their own. Each sets CMD.

op_build() { # IMAGE [build options…]
  local image="$1"; shift
  CMD=(podman build --format docker "$@" -t "$image" .)
}
op_run() { # NAME PORT VOLUME IMAGE
  CMD=(podman run -d --name "$1" -p "127.0.0.1:$2:8080" -v "$3:/data" "$4")
}
# With a read-only root filesystem, the addon cache needs a writable place that allows executables:
# a volume of its own (a new volume starts as a copy of the image's directory: uid 10001, 0700).
op_run_read_only() { # NAME PORT VOLUME CACHE-VOLUME IMAGE
  CMD=(podman run -d --name "$1" --read-only -p "127.0.0.1:$2:8080" -v "$3:/data" -v "$4:/var/cache/mechamental" "$5")
}
op_token_create() { # NAME
  CMD=(podman exec "$1" mechamental tokens create --app default --name "CI/CD Pipeline" --expires 30d)
}
op_tui() { # NAME (interactive: printed, not run)
  CMD=(podman exec -it "$1" mechamental tui)
}
op_backup() { # NAME FILE
  CMD=(podman exec "$1" mechamental backup "/data/$2")
}
op_copy_out() { # NAME FILE DESTINATION
  CMD=(podman cp "$1:/data/$2" "$3")
}
op_healthcheck() { # NAME
  CMD=(podman healthcheck run "$1")
}
op_stop() { # NAME
  CMD=(podman stop "$1")
}
op_start() { # NAME
  CMD=(podman start "$1")
}
# Restore: with the container stopped, put the backup in place as mechamental.db, owned by uid 10001,
# mode 0600, and drop a write-ahead log that belongs to the replaced file. The runtime image has no
# shell, so a stock Debian image does it on the volume.
op_restore() { # VOLUME DIRECTORY FILE
  CMD=(podman run --rm -v "$1:/data" -v "$2:/backup:ro" debian:bookworm-slim
    sh -c "install -m 0600 -o 10001 -g 10001 /backup/$3 /data/mechamental.db && rm -f /data/mechamental.db-wal /data/mechamental.db-shm")
}

# Prints CMD as a shell line: words with a double quote in single quotes, words with a space or a `$`
# in double quotes (so that `$(date +%F)` and `$PWD` stay substitutions for the reader's shell), the
# rest as they are.
show_cmd() {
  local word line=""
  for word in "${CMD[@]}"; do
    if [[ "$word" == *\"* ]]; then line+="'$word' "
    elif [[ "$word" == *[\ \$]* ]]; then line+="\"$word\" "
    else line+="$word "; fi
  done
  printf '%s\n' "${line% }"
}

# The docker form of CMD: the same line, without podman's `--format docker`.
show_docker_cmd() {
  local -a words=()
  local i
  for ((i = 0; i < ${#CMD[@]}; i++)); do
    if [[ "${CMD[i]}" == --format && "${CMD[i + 1]:-}" == docker ]]; then i=$((i + 1)); continue; fi
    words+=("${CMD[i]}")
  done
  words[0]=docker
  CMD=("${words[@]}")
  show_cmd
}

if ((print_commands)); then
  backup_name='backup-$(date +%F).db'
  for form in show_cmd show_docker_cmd; do
    op_build mechamental; $form
    op_build mechamental:debian --target runtime-debian; $form
    op_run mechamental 8080 mechamental-data mechamental; $form
    op_run_read_only mechamental 8080 mechamental-data mechamental-cache mechamental; $form
    op_token_create mechamental; $form
    op_tui mechamental; $form
    op_backup mechamental "$backup_name"; $form
    op_copy_out mechamental "$backup_name" .; $form
    op_stop mechamental; $form
    op_restore mechamental-data '$PWD' "$backup_name"; $form
    op_start mechamental; $form
  done
  op_healthcheck mechamental; show_cmd
  exit 0
fi

# ---------------------------------------------------------------------------------------------------
# Output and failure

readonly STARTED="$EPOCHREALTIME"
# Seconds since a time taken from $EPOCHREALTIME, e.g. 1.25.
seconds_since() { awk -v from="$1" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.2f", now - from }'; }
log() { printf '== [%6ss] %s\n' "$(seconds_since "$STARTED")" "$*"; }
banner() {
  local line
  printf '\n%s\n' '############################################################################'
  for line in "$@"; do printf '##  %s\n' "$line"; done
  printf '%s\n\n' '############################################################################'
}

work="" ; declare -a containers=() volumes=() background_pids=()
current_container=""

# A check failed: say which, show the container's log (token values masked), exit 1.
fail() {
  echo "container-test.sh: FAILED: $*" >&2
  if [[ -n "$current_container" ]] && podman container exists "$current_container" 2>/dev/null; then
    echo "--- podman logs $current_container (last 40 lines) ---" >&2
    podman logs --tail 40 "$current_container" 2>&1 | mask >&2 || true
  fi
  exit 1
}
mask() { sed -E 's/mm_(tok|adm)_[A-Za-z0-9]{36}/mm_\1_<value>/g'; }

cleanup() {
  local status=$?
  local pid
  for pid in "${background_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if ((${#containers[@]})); then podman rm --force --time 0 "${containers[@]}" >/dev/null 2>&1 || true; fi
  if ((${#volumes[@]})); then podman volume rm --force "${volumes[@]}" >/dev/null 2>&1 || true; fi
  [[ -n "$work" ]] && rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

podman_unavailable() {
  banner "CONTAINER IMAGE NOT CHECKED: podman cannot run containers on this machine." "$@" \
    "The Dockerfile was neither built nor run. See docs/container.md."
  if ((skip_if_no_podman)); then exit 0; fi
  exit 3
}

# ---------------------------------------------------------------------------------------------------
# Tools and podman

install_missing_tools() {
  local missing=() package
  for package in "${TOOLS_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  log "installing ${missing[*]}"
  if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
    podman_unavailable "Could not install ${missing[*]}: needs root and apt-get."
  fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null) ||
    podman_unavailable "apt-get could not install ${missing[*]}."
}

# A private containers.conf: runc (the runtime these machines have), and rlimits no higher than this
# shell's own hard limits: podman otherwise asks runc for more than a process without
# CAP_SYS_RESOURCE may set ("error setting rlimit type 6/7: operation not permitted"). nproc is also
# capped at kernel.pid_max: a higher value was refused here too.
write_containers_conf() {
  local nofile nproc pid_max
  nofile="$(ulimit -Hn)"
  nproc="$(ulimit -Hu)"
  pid_max="$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 32768)"
  [[ "$nproc" == unlimited || "$nproc" -gt "$pid_max" ]] && nproc="$pid_max"
  local ulimits="\"nproc=$nproc:$nproc\""
  [[ "$nofile" != unlimited ]] && ulimits="\"nofile=$nofile:$nofile\", $ulimits"
  cat >"$work/containers.conf" <<EOF
# Written by scripts/container-test.sh for its own podman commands (CONTAINERS_CONF).
[containers]
default_ulimits = [$ulimits]

[engine]
runtime = "runc"
EOF
  export CONTAINERS_CONF="$work/containers.conf"
}

# Can podman start a container here at all? A throwaway image holding only this machine's
# /bin/true and its libraries answers in a second, before minutes go into stand-ins and builds.
probe_podman() {
  local output probe_root="$work/probe-root" probe_image=localhost/mechamental-podman-probe:latest
  output="$(podman info --format '{{.Host.OCIRuntime.Name}} {{.Store.GraphDriverName}}' 2>&1)" ||
    podman_unavailable "\`podman info\` failed:" "$(head -c 300 <<<"$output")"
  log "podman $(podman version --format '{{.Client.Version}}' 2>/dev/null), runtime and storage: $output"
  local true_bin file
  true_bin="$(readlink -f "$(type -P true)")"
  mkdir -p "$probe_root"
  for file in "$true_bin" $(ldd "$true_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    cp --parents --dereference "$file" "$probe_root"
  done
  output="$(tar -C "$probe_root" -c . | podman import --quiet - "$probe_image" 2>&1)" ||
    podman_unavailable "\`podman import\` failed:" "$(head -c 300 <<<"$output")"
  local status=0
  output="$(podman run --rm --pull=never --network=none "$probe_image" "$true_bin" 2>&1)" || status=$?
  podman rmi --force "$probe_image" >/dev/null 2>&1 || true
  ((status == 0)) || podman_unavailable "\`podman run\` failed:" "$(head -c 300 <<<"$output")"
}

# ---------------------------------------------------------------------------------------------------
# Stand-ins for the base images

# docker.io/library/node:20-bookworm for node:20-bookworm: the name `FROM node:20-bookworm` means.
qualified() {
  local name="$1" first="${1%%/*}"
  if [[ "$name" != */* ]]; then echo "docker.io/library/$name"
  elif [[ "$first" == *.* || "$first" == *:* || "$first" == localhost ]]; then echo "$name"
  else echo "docker.io/$name"; fi
}

# The Dockerfile's base images: the defaults of its `ARG BUILD_IMAGE=…` and `ARG RUNTIME_IMAGE=…`.
read_base_images() {
  build_image="$(sed -n 's/^ARG BUILD_IMAGE=//p' "$REPO_ROOT/Dockerfile" | head -n 1)"
  runtime_image="$(sed -n 's/^ARG RUNTIME_IMAGE=//p' "$REPO_ROOT/Dockerfile" | head -n 1)"
  [[ -n "$build_image" && -n "$runtime_image" ]] || fail "the Dockerfile lacks ARG BUILD_IMAGE=… or ARG RUNTIME_IMAGE=… defaults"
}

# What a node stand-in is made of, from this machine: the node binary that runs this script, its
# npm, and its headers (node-gyp compiles better-sqlite3 against them instead of downloading them).
find_host_node() {
  node_bin="$(readlink -f "$(command -v node)")" || fail "node is not on PATH"
  node_version="$(node --version)"
  [[ "$node_version" == v20.* ]] || fail "the build stage needs Node.js 20 and this machine's node is $node_version"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  [[ -f "$npm_dir/package.json" ]] || fail "cannot find npm's own directory (from $(command -v npm))"
  local nodedir
  nodedir="$(npm config get nodedir 2>/dev/null || true)"
  [[ -z "$nodedir" || "$nodedir" == undefined || "$nodedir" == null ]] && nodedir="$(dirname "$(dirname "$node_bin")")"
  node_headers="$nodedir/include/node"
  local header="$node_headers/node_version.h" version
  [[ -f "$header" ]] || fail "Node.js headers not found at $node_headers (the build stage compiles better-sqlite3 against them; nothing may be downloaded)"
  version="v$(awk '/define NODE_(MAJOR|MINOR|PATCH)_VERSION/ { printf "%s%s", sep, $3; sep = "." }' "$header")"
  [[ "$version" == "$node_version" ]] || fail "the headers at $node_headers are for $version, node is $node_version"
  npm_registry="$(npm config get registry)"
  # npm here may trust a CA that Node's bundled roots do not (a TLS-inspecting proxy): the stand-in's
  # npm gets the same file.
  npm_cafile="$(npm config get cafile 2>/dev/null || true)"
  [[ "$npm_cafile" == undefined || "$npm_cafile" == null || ! -f "$npm_cafile" ]] && npm_cafile=""
  return 0
}

# A key for what make_stand_in would build now; a cached stand-in with another key is remade.
stand_in_key() {
  local kind="$1"
  {
    echo "recipe $STAND_IN_RECIPE $kind $DEBIAN_SUITE $DEBIAN_MIRROR $DEBIAN_SECURITY_MIRROR"
    if [[ "$kind" == node ]]; then
      echo "$node_version $(npm --version) $npm_registry"
      [[ -n "$npm_cafile" ]] && sha256sum <"$npm_cafile"
    fi
  } | sha256sum | cut -c1-16
}

# Makes a stand-in with mmdebstrap and imports it as NAME.
#   debian: like debian:bookworm-slim: the minbase package set, merged /usr, without man pages,
#           documentation (copyright files kept) and translations.
#   node:   like node:20-bookworm as far as the build stage needs it: minbase + ca-certificates,
#           python3, make, g++ (and binutils); this machine's node, npm and Node headers under
#           /usr/local as in the official image; /usr/local/etc/npmrc with nodedir=/usr/local, this
#           machine's npm registry and, when npm here uses one, its CA file.
make_stand_in() {
  local kind="$1" name="$2" key="$3"
  local tarball="$work/$kind-stand-in.tar" staging="$work/$kind-staging" log_file="$work/$kind-mmdebstrap.log"
  local -a options=(--variant=minbase --format=tar)
  local -a changes=(--change "LABEL $STAND_IN_LABEL=$key"
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
  [[ -d /usr/share/mmdebstrap/hooks/merged-usr ]] && options+=(--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
  case "$kind" in
    debian)
      options+=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
        --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*'
        --dpkgopt='path-exclude=/usr/share/info/*')
      changes+=(--change 'CMD ["bash"]')
      ;;
    node)
      mkdir -p "$staging/usr/local/bin" "$staging/usr/local/lib/node_modules" "$staging/usr/local/include" "$staging/usr/local/etc"
      cp "$node_bin" "$staging/usr/local/bin/node"
      cp -a "$npm_dir" "$staging/usr/local/lib/node_modules/npm"
      ln -s ../lib/node_modules/npm/bin/npm-cli.js "$staging/usr/local/bin/npm"
      ln -s ../lib/node_modules/npm/bin/npx-cli.js "$staging/usr/local/bin/npx"
      cp -a "$node_headers" "$staging/usr/local/include/node"
      {
        echo "# The stand-in's npm configuration (scripts/container-test.sh)."
        echo "nodedir=/usr/local"
        echo "registry=$npm_registry"
        echo "update-notifier=false"
        if [[ -n "$npm_cafile" ]]; then
          cp "$npm_cafile" "$staging/usr/local/etc/npm-ca.pem"
          echo "cafile=/usr/local/etc/npm-ca.pem"
        fi
      } >"$staging/usr/local/etc/npmrc"
      options+=(--include=ca-certificates,python3,make,g++ --customize-hook="sync-in $staging /")
      changes+=(--change "ENV NODE_VERSION=${node_version#v}" --change 'CMD ["node"]')
      ;;
  esac
  log "making the stand-in $name with mmdebstrap ($kind; log: $log_file)"
  if ! mmdebstrap "${options[@]}" "$DEBIAN_SUITE" "$tarball" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main" >"$log_file" 2>&1; then
    tail -n 30 "$log_file" >&2
    fail "mmdebstrap could not make the $kind stand-in"
  fi
  podman import --quiet "${changes[@]}" --message "stand-in made by scripts/container-test.sh" "$tarball" "$name" >/dev/null ||
    fail "podman import of the $kind stand-in failed"
  rm -rf "$tarball" "$staging"
}

# The stand-in key an image is labelled with; empty for an image this script did not make.
stand_in_label() { # IMAGE
  local label
  label="$(podman image inspect --format "{{index .Labels \"$STAND_IN_LABEL\"}}" "$1")"
  [[ "$label" == "<no value>" ]] && label=""
  echo "$label"
}

# Makes sure NAME (a FROM of the Dockerfile) exists locally: a real image is used as it is; a
# stand-in is used when it is current, else (re)made.
ensure_base_image() {
  local kind="$1" name
  name="$(qualified "$2")"
  local key label
  key="$(stand_in_key "$kind")"
  if podman image exists "$name"; then
    label="$(stand_in_label "$name")"
    if [[ -z "$label" ]]; then
      log "$name: a real image (not a stand-in); using it"
      return
    fi
    if [[ "$label" == "$key" ]]; then
      log "$name: stand-in cached"
      return
    fi
    log "$name: the cached stand-in is out of date"
  fi
  make_stand_in "$kind" "$name" "$key"
}

remove_our_images() {
  local name
  for name in "$TEST_IMAGE:runtime" "$TEST_IMAGE:runtime-debian"; do
    if podman image exists "$name"; then podman rmi "$name" >/dev/null && log "removed $name"; fi
  done
  # The build's layers before the stand-ins they are built on.
  : >"$work/layers"
  remove_stale_layers "$work/layers"
  rm -f "$LAYERS_FILE"
  for name in "$(qualified "$build_image")" "$(qualified "$runtime_image")"; do
    if podman image exists "$name" && [[ -n "$(stand_in_label "$name")" ]]; then
      podman rmi "$name" >/dev/null && log "removed the stand-in $name"
    fi
  done
  return 0
}

# ---------------------------------------------------------------------------------------------------
# Build layers. A build after a source change leaves the previous build's layers behind, untagged
# (hundreds of MB each time). The layers of the last build are recorded; the next build removes those
# it no longer uses (only untagged ones nothing else builds on: `podman rmi` refuses the others).

# Not in ~/.cache/mechamental: that is the executable's own addon cache.
readonly LAYERS_FILE="${XDG_CACHE_HOME:-$HOME/.cache}/mechamental-container-test/layers"

# Full IDs of the images a build log names (new layers and cache hits), in build order.
layers_of_build() { # LOG
  local id
  grep -oE -- '^--> [0-9a-f]{11,64}$|Using cache [0-9a-f]{64}' "$1" | awk '{ print $NF }' | while read -r id; do
    podman image inspect --format '{{.Id}}' "$id" 2>/dev/null || true
  done
}

# Removes the recorded layers that are not in FILE (this build's), then records FILE's.
remove_stale_layers() { # FILE
  local current="$1" id pass removed=0
  local -a stale=()
  if [[ -f "$LAYERS_FILE" ]]; then
    # Newest first: a layer goes only once the layers built on it are gone.
    mapfile -t stale < <(grep -vxF -f "$current" "$LAYERS_FILE" | tac)
  fi
  for pass in 1 2 3; do
    for id in "${stale[@]}"; do
      podman image exists "$id" || continue
      [[ "$(podman image inspect --format '{{len .RepoTags}}' "$id")" == 0 ]] || continue
      podman rmi "$id" >/dev/null 2>&1 && removed=$((removed + 1))
    done
  done
  ((removed == 0)) || log "removed $removed layers of earlier builds"
  mkdir -p "$(dirname "$LAYERS_FILE")"
  cp "$current" "$LAYERS_FILE"
}

# ---------------------------------------------------------------------------------------------------
# Checks

free_port() {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

# Runs CMD; its output goes to the terminal, masked. Fails the run when CMD fails.
run_cmd() {
  echo "\$ $(show_cmd)"
  "${CMD[@]}" 2>&1 | mask || fail "$(show_cmd) failed"
}

# HTTP status of a request to the container; the body goes to $work/body. Extra curl arguments follow.
http() { # METHOD URL [curl options…]
  local method="$1" url="$2"; shift 2
  curl -sS -o "$work/body" -w '%{http_code}' --max-time 10 -X "$method" "$@" "$url" 2>"$work/curl-error" || echo 000
}

wait_healthy_from_host() {
  local port="$1" i status=000
  for ((i = 0; i < 150; i++)); do
    status="$(http GET "http://127.0.0.1:$port/healthz")"
    [[ "$status" == 200 ]] && return 0
    sleep 0.1
  done
  fail "GET /healthz on 127.0.0.1:$port answered $status within 15 s ($(cat "$work/curl-error" 2>/dev/null))"
}

trigger() { # PORT PIPELINE [curl options…]: POST a message with the token in $work/auth-header
  local port="$1" pipeline="$2"; shift 2
  http POST "http://127.0.0.1:$port/v1/trigger/$pipeline" -H "@$work/auth-header" \
    -H 'Content-Type: application/json' --data '{"message": "Hello, how can I reset my password?"}' "$@"
}

check_runs_as_10001() {
  local name="$1" pid field
  pid="$(podman inspect --format '{{.State.Pid}}' "$name")"
  for field in Uid Gid; do
    local ids
    ids="$(awk -v f="$field:" '$1 == f { print $2, $3, $4, $5 }' "/proc/$pid/status")"
    [[ "$ids" == "10001 10001 10001 10001" ]] || fail "the server (pid $pid) runs with $field $ids, not 10001"
  done
  echo "ok: the server runs as uid 10001, gid 10001 (real, effective, saved, filesystem)"
}

# The scratch image resolves names with glibc alone, as its /etc/nsswitch.conf says: from /etc/hosts
# (where podman writes host.containers.internal) and from DNS (the npm registry's host, which the
# build needed anyway). `mechamental healthcheck` against them fails, nothing there being a
# mechamental server, but it must not fail with "does not resolve".
check_name_resolution() {
  local name="$1" host output registry_host="${npm_registry#*://}"
  registry_host="${registry_host%%[/:]*}"
  for host in host.containers.internal "$registry_host"; do
    output="$(podman exec "$name" mechamental healthcheck --host "$host" --port 80 2>&1 || true)"
    [[ "$output" != *"does not resolve"* ]] || fail "in the container, $host does not resolve: $output"
  done
  echo "ok: names resolve in the container, from /etc/hosts (host.containers.internal) and from DNS ($registry_host)"
}

check_volume() {
  local volume="$1" directory mode owner file
  directory="$(podman volume inspect --format '{{.Mountpoint}}' "$volume")"
  read -r mode owner < <(stat -c '%a %u' "$directory")
  [[ "$mode" == 700 && "$owner" == 10001 ]] || fail "the volume's /data is mode $mode, owner $owner (wanted 700, 10001)"
  while IFS= read -r -d '' file; do
    [[ "$(stat -c %u "$file")" == 10001 ]] || fail "$file in the volume does not belong to uid 10001"
  done < <(find "$directory" -mindepth 1 -print0)
  echo "ok: /data on the volume is mode 0700, it and every file in it belong to uid 10001"
}

# `podman stop` (SIGTERM, the image's STOPSIGNAL) returns 0 within the limit and the server exits 0.
check_stop() {
  local name="$1" before seconds code
  op_stop "$name"
  before="$EPOCHREALTIME"
  run_cmd >/dev/null
  seconds="$(seconds_since "$before")"
  awk -v s="$seconds" -v limit="$STOP_LIMIT_SECONDS" 'BEGIN { exit !(s < limit) }' ||
    fail "podman stop took $seconds s (limit $STOP_LIMIT_SECONDS s)"
  code="$(podman inspect --format '{{.State.ExitCode}}' "$name")"
  [[ "$code" == 0 ]] || fail "the server exited with $code on SIGTERM, not 0"
  echo "ok: podman stop returned 0 in $seconds s; the server exited 0"
}

# Opens an SSE stream on a slow pipeline, stops the container while the stream is open, and checks
# that `podman stop` returned 0 in time, the server exited 0, and the stream ended with run.failed
# shutting_down.
check_stop_ends_stream() {
  local name="$1" port="$2" stream="$work/stream-$1.txt"
  CMD=(podman exec "$name" mechamental pipelines add slow --app default --kind echo --config '{"delay_ms": 1000}')
  run_cmd
  curl -sS -N --max-time 60 -X POST "http://127.0.0.1:$port/v1/trigger/slow" -H "@$work/auth-header" \
    -H 'Content-Type: application/json' -H 'Accept: text/event-stream' \
    --data '{"message": "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"}' \
    >"$stream" 2>"$work/stream-error" &
  local curl_pid=$!
  background_pids+=("$curl_pid")
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q '^event: message.delta' "$stream" 2>/dev/null && break
    sleep 0.1
  done
  grep -q '^event: message.delta' "$stream" || fail "the SSE stream did not start within 10 s: $(cat "$stream" "$work/stream-error")"
  check_stop "$name"
  wait "$curl_pid" || true
  local last_event
  last_event="$(grep '^event:' "$stream" | tail -n 1)"
  [[ "$last_event" == "event: run.failed" ]] && grep -q '"code":"shutting_down"' "$stream" ||
    fail "the open stream did not end with run.failed shutting_down; it got:$(printf '\n%s' "$(tail -n 6 "$stream")")"
  echo "ok: SIGTERM ended the open SSE stream with run.failed shutting_down"
}

# The pipelines of app default, as `pipelines list` in the container prints them.
pipelines_in() { # NAME
  podman exec "$1" mechamental pipelines list --app default 2>&1
}

check_image() {
  local target="$1" image="$TEST_IMAGE:$1"
  local name="mechamental-test-$$-$target" volume="mechamental-test-$$-$target-data"
  local cache_volume="mechamental-test-$$-$target-cache" port
  port="$(free_port)"
  log "checking $image: container $name, volume $volume, port 127.0.0.1:$port"

  containers+=("$name"); volumes+=("$volume"); current_container="$name"
  op_run "$name" "$port" "$volume" "$image"
  run_cmd >/dev/null
  wait_healthy_from_host "$port"
  echo "ok: GET /healthz from the host answers 200"

  op_token_create "$name"
  echo "\$ $(show_cmd)"
  local created value
  created="$("${CMD[@]}" 2>&1)" || fail "tokens create failed: $(mask <<<"$created")"
  value="$(grep -oE 'mm_tok_[A-Za-z0-9]{36}' <<<"$created" | head -n 1)"
  [[ -n "$value" ]] || fail "tokens create printed no token value: $(mask <<<"$created")"
  # The header goes through a private file, not argv: a token value is never on a command line.
  (umask 077 && printf 'Authorization: Bearer %s\n' "$value" >"$work/auth-header")
  unset value created

  local status
  status="$(trigger "$port" chat)"
  [[ "$status" == 200 ]] || fail "a trigger with that token answered $status: $(cat "$work/body")"
  grep -q '"output":"Hello, how can I reset my password?"' "$work/body" || fail "the trigger's answer lacks the echo: $(cat "$work/body")"
  echo "ok: POST /v1/trigger/chat from the host with the token from podman exec answers 200 with the echo"

  check_runs_as_10001 "$name"
  check_name_resolution "$name"

  op_healthcheck "$name"
  run_cmd
  echo "ok: the image's HEALTHCHECK passes"

  local backup
  backup="backup-$(date +%F).db"
  op_backup "$name" "$backup"
  run_cmd
  mkdir -p "$work/backups-$target"
  op_copy_out "$name" "$backup" "$work/backups-$target/"
  run_cmd
  [[ "$(head -c 15 "$work/backups-$target/$backup")" == "SQLite format 3" ]] || fail "the backup copied out of the container is not an SQLite database"
  echo "ok: a backup made in the container and copied out with podman cp is an SQLite database"

  # Changes after the backup, which the restore below must undo.
  check_stop_ends_stream "$name" "$port"

  log "replacing the container (same volume)"
  CMD=(podman rm "$name"); run_cmd >/dev/null
  op_run "$name" "$port" "$volume" "$image"
  run_cmd >/dev/null
  wait_healthy_from_host "$port"
  status="$(trigger "$port" chat)"
  [[ "$status" == 200 ]] || fail "after replacing the container, the token got $status: $(cat "$work/body")"
  grep -qw slow <<<"$(pipelines_in "$name")" || fail "the pipeline added in the old container is gone"
  echo "ok: the new container on the same volume has the old one's data: the token works, the pipeline is there"
  check_volume "$volume"
  check_stop "$name"

  log "restoring the backup"
  op_restore "$volume" "$work/backups-$target" "$backup"
  run_cmd
  op_start "$name"
  run_cmd >/dev/null
  wait_healthy_from_host "$port"
  status="$(trigger "$port" chat)"
  [[ "$status" == 200 ]] || fail "after the restore, the token got $status: $(cat "$work/body")"
  ! grep -qw slow <<<"$(pipelines_in "$name")" || fail "after the restore, the pipeline added after the backup is still there"
  echo "ok: after the restore the token works and the pipeline added after the backup is gone"
  check_volume "$volume"
  check_stop "$name"

  log "a read-only root filesystem"
  CMD=(podman rm "$name"); run_cmd >/dev/null
  volumes+=("$cache_volume")
  op_run_read_only "$name" "$port" "$volume" "$cache_volume" "$image"
  run_cmd >/dev/null
  wait_healthy_from_host "$port"
  status="$(trigger "$port" chat)"
  [[ "$status" == 200 ]] || fail "with a read-only root filesystem, the token got $status: $(cat "$work/body")"
  echo "ok: with --read-only and a volume for the addon cache, the server starts and the token works"
  check_stop "$name"

  # (Without systemd, podman logs an error about the health check timer it cannot remove: noise.)
  podman rm --force "$name" >/dev/null 2>&1 || fail "podman rm $name failed"
  podman volume rm --force "$volume" "$cache_volume" >/dev/null || fail "podman volume rm $volume $cache_volume failed"
  current_container=""
}

image_size() {
  local bytes
  bytes="$(podman image inspect --format '{{.Size}}' "$1")"
  awk -v b="$bytes" 'BEGIN { printf "%d bytes (%.1f MB, %.1f MiB)", b, b / 1e6, b / 1048576 }'
}

# ---------------------------------------------------------------------------------------------------
# Main

main() {
  cd "$REPO_ROOT"
  work="$(mktemp -d "${TMPDIR:-/var/tmp}/mechamental-container-test.XXXXXX")"
  chmod 700 "$work"

  if ((install_tools)); then install_missing_tools; fi
  command -v podman >/dev/null || podman_unavailable "podman is not installed (run with --install-tools, or apt-get install podman runc)."
  [[ $EUID -eq 0 ]] || podman_unavailable "This script runs rootful podman and needs root."
  local tool
  for tool in mmdebstrap curl; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (run with --install-tools)"
  done
  write_containers_conf

  read_base_images
  if ((remove_stand_ins)); then
    remove_our_images
    return 0
  fi

  probe_podman

  # The two stand-ins at once: most of the time goes into downloads and dpkg, not CPU.
  find_host_node
  ensure_base_image node "$build_image" &
  local node_pid=$!
  ensure_base_image debian "$runtime_image" &
  local debian_pid=$!
  background_pids+=("$node_pid" "$debian_pid")
  wait "$node_pid" || fail "no base image for the build stage ($build_image)"
  wait "$debian_pid" || fail "no base image for the runtime-debian stage ($runtime_image)"

  local target
  for target in runtime runtime-debian; do
    log "building the image (target $target)"
    op_build "$TEST_IMAGE:$target" --pull=never --target "$target"
    echo "\$ $(show_cmd)"
    "${CMD[@]}" >"$work/build-$target.log" 2>&1 || { tail -n 40 "$work/build-$target.log" >&2; fail "the image build failed (target $target)"; }
    echo "   $(grep -c 'Using cache' "$work/build-$target.log" || true) steps from the cache"
    layers_of_build "$work/build-$target.log" >>"$work/layers"
  done
  remove_stale_layers "$work/layers"

  for target in runtime runtime-debian; do
    check_image "$target"
  done

  log "image sizes"
  for target in runtime runtime-debian; do
    printf '  %-16s %s\n' "$target" "$(image_size "$TEST_IMAGE:$target")"
  done
  log "all container checks passed"
}

# Parsed whole before it runs, so that editing this file during a run cannot change the run.
main "$@"; exit

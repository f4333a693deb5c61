#!/usr/bin/env bash
# Side-by-side benchmark: berth vs CNCF distribution 2.8.2 vs nginx (sendfile), all on
# 127.0.0.1, in one run. Starts every server itself (in a temp dir, on free ports), stops
# them on exit, prints a Markdown table and writes bench/results/latest.{md,json}.
# See bench/README.md for the knobs (BENCH_QUICK=1, BENCH_PEERS_ONLY=1, BERTH_AUTH, ...).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
cd "$ROOT"
BERTH=${BERTH_BIN:-build/release/berth}
OUT=${BENCH_OUT:-$HERE/results}

say() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

# ----------------------------------------------------------------------------- tools
missing=()
want() { # command package [absolute path when not on PATH]
  command -v "$1" >/dev/null 2>&1 || { [ -n "${3:-}" ] && [ -x "$3" ]; } || missing+=("$2")
}
want curl curl
want wrk wrk
want skopeo skopeo
want docker-registry docker-registry /usr/bin/docker-registry
want nginx nginx-light /usr/sbin/nginx
want python3 python3
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # keep the packages from starting their own system services (docker-registry, nginx)
    created_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
      created_policy=1
    fi
    rc=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
    [ -n "$created_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ $rc = 0 ] || die "apt-get install ${missing[*]} failed"
  else
    die "missing tools; run: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
REGISTRY=$(command -v docker-registry || echo /usr/bin/docker-registry)

# Blob HEAD load: wrk 4.1 hangs on HEAD (it waits for a body) and ab speaks only HTTP/1.0,
# so bench/hload.c (HTTP/1.1 keep-alive) is compiled for it; ab is the fallback.
HLOAD_SRC=$HERE/hload.c
build_hload() { # DEST
  local cc
  cc=$(command -v cc || command -v gcc || command -v clang || true)
  [ -n "$cc" ] && "$cc" -O2 -pthread -o "$1" "$HLOAD_SRC" 2>"$1.log"
}

# ----------------------------------------------------------------------------- busy machine?
busy=$(pgrep -x cc1plus 2>/dev/null | wc -l || true)
if [ "$busy" -gt 0 ] && [ "${BENCH_WAIT_IDLE:-0}" -gt 0 ]; then
  say "waiting up to ${BENCH_WAIT_IDLE}s for $busy compiler process(es) to finish"
  end=$((SECONDS + BENCH_WAIT_IDLE))
  while [ $SECONDS -lt $end ] && pgrep -x cc1plus >/dev/null; do sleep 2; done
  busy=$(pgrep -x cc1plus 2>/dev/null | wc -l || true)
fi
if [ "$busy" -gt 0 ]; then
  say "WARNING: $busy cc1plus process(es) running; numbers will be noisy (BENCH_WAIT_IDLE=600 waits)"
  export BENCH_BUSY="$busy cc1plus process(es)"
fi

# ----------------------------------------------------------------------------- work dir, cleanup
WORK=$(mktemp -d "${BENCH_TMPDIR:-${TMPDIR:-/tmp}}/berth-bench.XXXXXX")
mkdir -p "$WORK/logs"
PIDS=()
MEAS_PID=
BERTH_PID=
cleanup() {
  local rc=$? pid i
  trap - EXIT INT TERM
  if [ -n "$MEAS_PID" ]; then kill -TERM "$MEAS_PID" 2>/dev/null || true; fi
  if [ -n "$BERTH_PID" ] && ! kill -0 "$BERTH_PID" 2>/dev/null; then
    say "berth (pid $BERTH_PID) was not running at the end; last lines of its log:"
    tail -n 20 "$WORK/logs/berth.log" >&2 || true
  fi
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $WORK (logs in $WORK/logs)"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$WORK/bin"
if [ "${BENCH_HEAD_TOOL:-hload}" = hload ] && build_hload "$WORK/bin/hload"; then
  export BENCH_HLOAD=$WORK/bin/hload
else
  unset BENCH_HLOAD
  [ "${BENCH_HEAD_TOOL:-hload}" = ab ] ||
    say "could not compile bench/hload.c ($(head -c 300 "$WORK/bin/hload.log" 2>/dev/null)); blob HEAD falls back to ab (HTTP/1.0)"
  if ! command -v ab >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends apache2-utils >/dev/null ||
        die "apt-get install apache2-utils failed"
    else
      die "no C compiler for bench/hload.c and no ab; run: sudo apt-get install -y gcc (or apache2-utils)"
    fi
  fi
fi

read -r P_BERTH P_DIST P_NGINX < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

# wait_http URL STATUS PID NAME SECONDS LOG: poll until URL answers STATUS
wait_http() {
  local url=$1 want=$2 pid=$3 name=$4 secs=$5 log=$6 code=
  local end=$((SECONDS + secs))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$log" >&2 || true
      die "$name exited during start-up (log above)"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" 2>/dev/null || true)
    [ "$code" = "$want" ] && return 0
    if [ $SECONDS -ge $end ]; then
      tail -n 30 "$log" >&2 || true
      die "$name not ready after ${secs}s: $url answered '$code', wanted $want"
    fi
    sleep 0.1
  done
}

# ----------------------------------------------------------------------------- distribution
DIST_DATA=$WORK/distribution/data
mkdir -p "$DIST_DATA"
cat >"$WORK/distribution/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIST_DATA
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$P_DIST
  secret: berth-bench-only
  headers:
    X-Content-Type-Options: [nosniff]
EOF
# REGISTRY_* variables would override the config file; keep them away from it.
unset_registry_env=()
for v in $(compgen -e | grep '^REGISTRY_' || true); do unset_registry_env+=(-u "$v"); done
env "${unset_registry_env[@]}" "$REGISTRY" serve "$WORK/distribution/config.yml" \
  >"$WORK/logs/distribution.log" 2>&1 &
DIST_PID=$!
PIDS+=("$DIST_PID")
wait_http "http://127.0.0.1:$P_DIST/v2/" 200 "$DIST_PID" distribution 30 "$WORK/logs/distribution.log"
say "distribution ready on 127.0.0.1:$P_DIST (pid $DIST_PID)"

# ----------------------------------------------------------------------------- nginx
# Serves the same blob files (distribution's store) under the same request paths as the
# registries, plus small static files for the manifest and tags/list comparison.
NGX=$WORK/nginx
mkdir -p "$NGX/static" "$NGX/tmp"
{
  echo "worker_processes 2;"
  [ "$(id -u)" = 0 ] && echo "user root root;  # workers must read the blob files in the temp dir"
  cat <<EOF
daemon off;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  client_body_temp_path $NGX/tmp/body;
  proxy_temp_path $NGX/tmp/proxy;
  fastcgi_temp_path $NGX/tmp/fastcgi;
  uwsgi_temp_path $NGX/tmp/uwsgi;
  scgi_temp_path $NGX/tmp/scgi;
  server {
    listen 127.0.0.1:$P_NGINX;
    root $NGX/static;
    location = /healthz { return 200 "ok\n"; }
    location ~ "^/v2/.+/blobs/sha256:([0-9a-f]{2})([0-9a-f]{62})\$" {
      alias $DIST_DATA/docker/registry/v2/blobs/sha256/\$1/\$1\$2/data;
    }
    location ~ "^/v2/.+/manifests/[^/]+\$" {
      default_type application/vnd.oci.image.manifest.v1+json;
    }
    location ~ "^/v2/.+/tags/list\$" {
      default_type application/json;
    }
  }
}
EOF
} >"$NGX/nginx.conf"
"$NGINX" -t -q -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" 2>"$WORK/logs/nginx-t.log" ||
  { cat "$WORK/logs/nginx-t.log" >&2; die "nginx rejected $NGX/nginx.conf"; }
"$NGINX" -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" >"$WORK/logs/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_http "http://127.0.0.1:$P_NGINX/healthz" 200 "$NGINX_PID" nginx 15 "$NGX/error.log"
say "nginx ready on 127.0.0.1:$P_NGINX (pid $NGINX_PID)"

# ----------------------------------------------------------------------------- berth
berth_status=n/a
berth_reason=
if [ "${BENCH_PEERS_ONLY:-0}" = 1 ]; then
  berth_reason="BENCH_PEERS_ONLY=1"
elif [ ! -x "$BERTH" ]; then
  berth_reason="no executable at $BERTH (build it: make build)"
elif ! timeout 10 "$BERTH" serve --help 2>&1 | grep -q -- '--ready-file'; then
  berth_reason="'$BERTH serve --help' does not mention --ready-file (not built yet?)"
else
  mkdir -p "$WORK/berth/data"
  READY=$WORK/berth/ready
  # shellcheck disable=SC2086  # BERTH_ARGS is a list of extra flags
  "$BERTH" serve --data-dir "$WORK/berth/data" --listen "127.0.0.1:$P_BERTH" \
    --ready-file "$READY" --create-on-push ${BERTH_ARGS:-} >"$WORK/logs/berth.log" 2>&1 &
  BERTH_PID=$!
  PIDS+=("$BERTH_PID")
  end=$((SECONDS + 60))
  until [ -s "$READY" ] && grep -q ':' "$READY"; do
    if ! kill -0 "$BERTH_PID" 2>/dev/null; then
      tail -n 30 "$WORK/logs/berth.log" >&2 || true
      BERTH_PID=
      die "berth exited during start-up (log above)"
    fi
    [ $SECONDS -ge $end ] && die "berth wrote no ready file ($READY) within 60s"
    sleep 0.05
  done
  BERTH_ADDR=$(head -n1 "$READY" | tr -d '[:space:]')
  wait_http "http://$BERTH_ADDR${BERTH_HEALTH_PATH:-/healthz}" "${BERTH_HEALTH_STATUS:-200}" \
    "$BERTH_PID" berth 30 "$WORK/logs/berth.log"
  if [ -n "${BERTH_AUTH_CMD:-}" ]; then
    BERTH_AUTH=$(BERTH_URL="http://$BERTH_ADDR" BERTH_DATA_DIR="$WORK/berth/data" bash -c "$BERTH_AUTH_CMD") ||
      die "BERTH_AUTH_CMD failed"
    [ -n "$BERTH_AUTH" ] || die "BERTH_AUTH_CMD printed nothing (want user:password)"
  fi
  export BERTH_AUTH=${BERTH_AUTH:-}
  berth_status=ok
  say "berth ready on $BERTH_ADDR (pid $BERTH_PID)${BERTH_AUTH:+, with Basic auth}"
  export BENCH_BERTH_URL="http://$BERTH_ADDR" BENCH_BERTH_PID=$BERTH_PID BENCH_BERTH_BIN=$BERTH \
    BENCH_BERTH_DATA="$WORK/berth/data"
fi
[ $berth_status = ok ] || say "berth column: n/a ($berth_reason)"
git_desc=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "?")
export BENCH_BERTH_STATUS=$berth_status BENCH_BERTH_REASON=$berth_reason
berth_built=$(date -u -r "$BERTH" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo "?")
berth_ver=$(timeout 5 "$BERTH" --version 2>/dev/null | head -n1 || true)
export BENCH_BERTH_DESC="$BERTH${berth_ver:+ ($berth_ver)}, binary built $berth_built, source tree now at git $git_desc${BERTH_ARGS:+, args: $BERTH_ARGS}"
export BENCH_DISTRIBUTION_STATUS=ok BENCH_DISTRIBUTION_URL="http://127.0.0.1:$P_DIST" BENCH_DISTRIBUTION_PID=$DIST_PID
export BENCH_DISTRIBUTION_DESC="distribution $("$REGISTRY" --version 2>&1 | head -n1 | awk '{print $NF}'), filesystem storage, in-memory blob descriptor cache, access log off"
export BENCH_NGINX_STATUS=ok BENCH_NGINX_URL="http://127.0.0.1:$P_NGINX" BENCH_NGINX_PID=$NGINX_PID
export BENCH_NGINX_DESC="$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), sendfile on, 2 workers, access log off"
export BENCH_NGINX_STATIC=$NGX/static

# How this run was asked for, for the report header.
cmd="bench/run.sh"
[ -n "${MAKELEVEL:-}" ] && cmd="make bench"
for v in BENCH_QUICK BENCH_PEERS_ONLY BENCH_SECTIONS BENCH_BLOB_MB BENCH_CHUNK_MB BENCH_WRK_DURATION \
         BENCH_WRK_CONN BENCH_WRK_THREADS BENCH_LAYERS BENCH_LAYER_KB BENCH_HEAD_TOOL BERTH_BIN BERTH_ARGS; do
  [ -n "${!v:-}" ] && cmd="$v=${!v} $cmd"
done
[ -n "${BERTH_AUTH:-}" ] && cmd="$cmd (berth with Basic auth)"
export BENCH_COMMAND=$cmd

# ----------------------------------------------------------------------------- measure
mkdir -p "$OUT"
limit=${BENCH_TIMEOUT:-900}
timeout "$limit" python3 "$HERE/bench.py" measure --work "$WORK/run" --out "$OUT" &
MEAS_PID=$!
rc=0
wait "$MEAS_PID" || rc=$?
MEAS_PID=
[ $rc = 124 ] && die "the measurement did not finish within ${limit}s (BENCH_TIMEOUT)"
[ $rc = 0 ] || die "the measurement failed (exit $rc); rerun with BENCH_KEEP=1 to keep the logs"

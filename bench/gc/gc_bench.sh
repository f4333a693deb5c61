#!/bin/sh
# GC time and peak memory for BLOBS blobs / MANIFESTS manifests (default 100k / 10k).
# Builds berth and berth_gc_fill in build/bench (Release, BERTH_BENCH=ON), fills a fresh
# data dir, then times `berth gc --dry-run` and `berth gc --grace 0` with GNU time.
# Not part of `make test`.
set -eu
BLOBS=${BLOBS:-100000}
MANIFESTS=${MANIFESTS:-10000}
BUILD=${BUILD:-build/bench}
NAME=gc
. "$(dirname "$0")/setup.sh"
"$BUILD/bench/berth_gc_fill" "$DATA" "$BLOBS" "$MANIFESTS"
# One run of the server-side startup (account, keys) so gc measures only collection.
"$BUILD/berth" storage --data-dir "$DATA" --json >/dev/null
for args in "--dry-run --grace 0" "--grace 0" "--grace 0"; do
  echo "== berth gc $args"
  # shellcheck disable=SC2086
  /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$BUILD/berth" --log-level warn gc --data-dir "$DATA" $args
done
echo "== berth storage"
/usr/bin/time -f "wall %e s, peak RSS %M KiB" "$BUILD/berth" storage --data-dir "$DATA" | tail -1

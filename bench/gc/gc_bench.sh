#!/bin/sh
# GC time and peak memory for BLOBS blobs / MANIFESTS manifests (default 100k / 10k).
# Builds berth and berth_gc_fill in build/bench (Release, BERTH_BENCH=ON), fills a fresh
# data dir, then times `berth gc --dry-run` and `berth gc --grace 0` with GNU time.
# Not part of `make test`.
set -eu
if [ ! -x /usr/bin/time ]; then  # GNU time reports peak RSS
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq --no-install-recommends time >/dev/null
  else echo "bench: needs GNU time: sudo apt-get install -y time" >&2; exit 1; fi
fi
BLOBS=${BLOBS:-100000}
MANIFESTS=${MANIFESTS:-10000}
BUILD=${BUILD:-build/bench}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DBERTH_BENCH=ON >/dev/null
cmake --build "$BUILD" --target berth berth_gc_fill -j "${JOBS:-2}" >/dev/null
DATA=$(mktemp -d /tmp/berth-gc-bench-XXXXXX)
trap 'rm -rf "$DATA"' EXIT
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

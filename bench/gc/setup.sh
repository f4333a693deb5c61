# Sourced by the gc and lifecycle benches, with BUILD and NAME set: makes sure GNU time is
# there (it reports peak RSS), builds berth and berth_gc_fill in $BUILD (Release,
# BERTH_BENCH=ON), and makes a fresh data dir DATA that is removed on exit.
if [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq --no-install-recommends time >/dev/null
  else echo "bench: needs GNU time: sudo apt-get install -y time" >&2; exit 1; fi
fi
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DBERTH_BENCH=ON >/dev/null
cmake --build "$BUILD" --target berth berth_gc_fill -j "${JOBS:-2}" >/dev/null
DATA=$(mktemp -d "/tmp/berth-$NAME-bench-XXXXXX")
trap 'rm -rf "$DATA"' EXIT

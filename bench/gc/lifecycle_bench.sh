#!/bin/sh
# Lifecycle evaluation time and peak memory for one repository of IMAGES images (default
# 50k), read from the metadata store as a real run reads them: fills a fresh data dir with
# berth_gc_fill (one repository), stores a three-rule policy, then times
# `berth lifecycle run --dry-run` (read + evaluate) and the real run (read + evaluate +
# delete each expired image, audited). Builds in build/release (Release, BERTH_BENCH=ON).
# Not part of `make test`.
set -eu
IMAGES=${IMAGES:-50000}
BUILD=${BUILD:-build/release}
NAME=lifecycle
. "$(dirname "$0")/setup.sh"
# The fill deletes a fifth of what it pushes; push a quarter more to keep IMAGES.
PUSHED=$((IMAGES * 5 / 4))
"$BUILD/bench/berth_gc_fill" "$DATA" $((PUSHED * 2 + 1000)) "$PUSHED" 1
"$BUILD/berth" storage --data-dir "$DATA" --json >/dev/null  # account and keys, outside the timing
python3 - "$DATA/meta.db" <<'PY'
import json, sqlite3, sys
rules = [
    {"rulePriority": 1, "selection": {"tagStatus": "tagged", "tagPrefixList": ["release-"],
                                      "countType": "imageCountMoreThan", "countNumber": 100},
     "action": {"type": "expire"}},
    {"rulePriority": 2, "selection": {"tagStatus": "untagged", "countType": "sinceImagePushed",
                                      "countUnit": "days", "countNumber": 7}, "action": {"type": "expire"}},
    {"rulePriority": 3, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                      "countNumber": 10000}, "action": {"type": "expire"}},
]
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE repositories SET settings_json = ? WHERE name = 'bench/repo1'",
           (json.dumps({"lifecyclePolicy": {"text": json.dumps({"rules": rules})}}),))
db.commit()
print("images in bench/repo1:", db.execute("SELECT count(*) FROM manifests").fetchone()[0])
PY
for mode in --dry-run ""; do
  echo "== berth lifecycle run $mode"
  # shellcheck disable=SC2086
  /usr/bin/time -f "wall %e s, peak RSS %M KiB" "$BUILD/berth" --log-level warn lifecycle run --data-dir "$DATA" \
    --repository bench/repo1 --json $mode | python3 -c \
    'import json,sys; r=json.load(sys.stdin)["repositories"][0]; print("evaluated", r["evaluated"], "expired", r["expired"], "would expire", r["wouldExpire"])'
done

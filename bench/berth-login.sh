#!/bin/sh
# BERTH_AUTH_CMD for `make bench`: prints AWS:TOKEN, a /v2/ login got with the root key the
# benchmarked berth generated into its data dir (run.sh sets BERTH_URL and BERTH_DATA_DIR),
# so the benchmark measures berth with authentication on, as it is deployed.
set -eu
token=$(AWS_SHARED_CREDENTIALS_FILE="$BERTH_DATA_DIR/credentials" AWS_CONFIG_FILE=/dev/null AWS_PAGER= \
  aws ecr get-login-password --endpoint-url "$BERTH_URL" --region us-east-1)
echo "AWS:$token"

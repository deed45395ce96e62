#!/bin/sh
# One-shot (docker-compose.yml service temporal-setup, image temporalio/admin-tools), after `temporal` is
# healthy: waits until the cluster answers its health check, creates the namespace if it is missing, and
# registers the search attributes every quickmig migration upserts (src/workflows/search-attributes.ts), so
# `temporal workflow list --query "QuickmigVm='esx-a/app01'"` and the UI's filters work. Every step either
# succeeds or stops the script with a non-zero exit and a message: the worker waits for this service to
# complete successfully, so a registration that failed is seen at once instead of as workflows that cannot
# upsert their attributes later.
set -eu

: "${TEMPORAL_ADDRESS:?set TEMPORAL_ADDRESS, e.g. temporal:7233}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${NAMESPACE_RETENTION:-7d}"
ATTEMPTS="${HEALTH_ATTEMPTS:-60}"
# NAME:Type, as src/request/contract.ts declares them.
SEARCH_ATTRIBUTES="QuickmigVm:Keyword QuickmigPhase:Keyword QuickmigMethod:Keyword QuickmigMode:Keyword QuickmigDryRun:Bool QuickmigBatch:Keyword"

attempt=1
until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "temporal-setup: $TEMPORAL_ADDRESS is not healthy after $ATTEMPTS attempts" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "temporal-setup: namespace $NAMESPACE exists"
else
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "temporal-setup: namespace $NAMESPACE created (retention $RETENTION)"
fi

# A namespace just created can take a moment before it accepts search attributes: retry the listing, then
# create each missing attribute once. An attribute that exists with another type is an error to fix by hand.
attempt=1
until existing="$(temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE")"; do
  if [ "$attempt" -ge "$ATTEMPTS" ]; then
    echo "temporal-setup: cannot list the search attributes of namespace $NAMESPACE" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done
for entry in $SEARCH_ATTRIBUTES; do
  name="${entry%%:*}"
  type="${entry#*:}"
  pattern="(^|[[:space:]])$name([[:space:]]|$)"
  if ! printf '%s\n' "$existing" | grep -qE "$pattern"; then
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" \
      --name "$name" --type "$type"
    echo "temporal-setup: search attribute $name ($type) registered"
  elif printf '%s\n' "$existing" | grep -E "$pattern" | grep -q "$type"; then
    echo "temporal-setup: search attribute $name ($type) exists"
  else
    echo "temporal-setup: search attribute $name exists with another type; quickmig needs $type" >&2
    exit 1
  fi
done

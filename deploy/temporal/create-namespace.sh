#!/bin/sh
# Creates the namespace Outflow uses when it is missing, through the frontend
# with the Temporal CLI (in the temporalio/admin-tools image), over mutual TLS:
# TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the CLI's TEMPORAL_TLS_* variables
# come from docker-compose.yml. `outflow server` creates it itself.
set -eu

ns="${TEMPORAL_NAMESPACE:-default}"
if temporal operator namespace describe --namespace "$ns" >/dev/null 2>&1; then
  echo "namespace $ns exists"
else
  temporal operator namespace create --namespace "$ns" --retention 7d
fi

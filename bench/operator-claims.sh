#!/usr/bin/env bash
# Time from creating N StorageClaims to all Bound and reconciles per second through the operator
# (JOSDK over the Fabric8 mock API server, real etcd), next to the rate of the same allocations made
# directly through the allocation manager in the same run. Usage: bench/operator-claims.sh [N] [THREADS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# The mock API server runs on Vert.x 4 in its own class loader; the operator build copies its jars.
export BENCH_JAVA_OPTS="${BENCH_JAVA_OPTS:-} -Dmycnet.mockserver.lib=$root/operator/target/mock-server-lib"
exec "$(dirname "$0")/bench-java.sh" io.mycnet.storage.bench.operator.OperatorClaimsBenchmark "$@"

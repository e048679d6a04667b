#!/usr/bin/env bash
# Allocations per second through the manager vs raw etcd transactions per second, at concurrency
# 1, 8 and 32, against a real etcd started for the run. Usage: bench/allocation-throughput.sh [SECONDS]
set -euo pipefail
exec "$(dirname "$0")/bench-java.sh" io.mycnet.storage.bench.allocation.AllocationThroughput "$@"

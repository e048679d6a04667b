#!/usr/bin/env bash
# The block frontend under fio's nbd engine (bench/src/main/java/io/mycnet/storage/bench/nbd/): a
# real etcd, the production control plane (OperatorMain over the Fabric8 mock API server) and four
# agents as processes, started with the agent DaemonSet's JVM options (config/agent/daemonset.yaml:
# -XX:MaxRAMPercentage=75 in a 512 MiB pod), not local mode's. Volumes: 1 replica, 3 replicas
# STRONG, 3 replicas EVENTUAL, 1 replica encrypted at rest (CRITICAL), each attached on its
# primary's node and opened on that node's NBD socket. Baseline of the same run: nbdkit's file
# plugin on a file on the same disk (and, for writes, with every write made durable by the fua
# filter). Workloads: 4 KiB random read and write at QD32, 1 MiB sequential read and write at QD8,
# 4 KiB QD1 latency p50/p99, --io-seconds each (default 7). Prints figures and ratios with the
# issue's goals, asserts nothing. Bounded (a watchdog ends the run after --limit-s, default 420 s),
# stops every process it started by PID.
# Needs: fio (with the nbd engine), nbdkit, libnbd-bin (nbdinfo).
# Usage: bench/nbd.sh [--io-seconds=7] [--volume-size=256MiB] [--limit-s=420]
# Set SKIP_BUILD=1 to reuse what an earlier run built.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
for tool in fio nbdkit nbdinfo; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench/nbd.sh needs $tool (Debian packages: fio nbdkit libnbd-bin)" >&2
    exit 2
  fi
done
offline=()
if [ -d "${HOME}/.m2/repository/io/etcd/jetcd-core" ]; then offline=(-o); fi
if [ -z "${SKIP_BUILD:-}" ]; then
  mvn -B -q "${offline[@]}" -pl bench,node-agent -am install -DskipTests -Dspotless.check.skip=true >&2
  mvn -B -q "${offline[@]}" -pl bench dependency:build-classpath \
    -Dmdep.outputFile=target/bench.classpath >&2
  mvn -B -q "${offline[@]}" -pl node-agent dependency:build-classpath -Dmdep.includeScope=runtime \
    -Dmdep.outputFile=target/agent.classpath >&2
fi
agent_cp="node-agent/target/classes:$(cat node-agent/target/agent.classpath)"
exec java ${BENCH_JAVA_OPTS:--Xmx1g} -Dmycnet.mockserver.lib=bench/target/mock-server-lib \
  -cp "bench/target/classes:$(cat bench/target/bench.classpath)" \
  io.mycnet.storage.bench.nbd.NbdBenchmark --agent-classpath="$agent_cp" "$@"

#!/usr/bin/env bash
# Data path throughput (bench/src/main/java/io/mycnet/storage/bench/datapath/): a real etcd, the
# production control plane (OperatorMain over the Fabric8 mock API server) and four agents as
# processes. (a) Rebuild of one replica between two agents vs a raw
# TCP socket copy of the same bytes between two JVMs; (b) 4 KiB random and 1 MiB sequential writes
# and reads of a 3-replica STRONG and a 3-replica EVENTUAL volume vs a 1-replica volume; (c) the same
# on a 1-replica volume of a fifth agent with encryption-at-rest on vs the plain one. Every figure
# is a ratio against a baseline of the same run. Bounded (a watchdog ends the run after --limit-s,
# default 270 s), stops every process it started by PID. Prints figures, asserts nothing.
# Usage: bench/datapath.sh [--rebuild-size=256MiB|1GiB] [--io-seconds=6] [--limit-s=270]
# Set SKIP_BUILD=1 to reuse what an earlier run built.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
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
  io.mycnet.storage.bench.datapath.DataPathBenchmark --agent-classpath="$agent_cp" "$@"

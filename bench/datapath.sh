#!/usr/bin/env bash
# Data path throughput (bench/src/main/java/io/mycnet/storage/bench/datapath/): a real etcd, the
# production control plane (OperatorMain over the Fabric8 mock API server) and five agents as
# processes, run with the agent DaemonSet's JVM options (-XX:MaxRAMPercentage=75 under its 512Mi
# limit: -XX:MaxRAM=512m, and the serial collector the JVM picks there). (a) Rebuild of one replica
# between two agents vs a file-to-file copy of the same bytes over TCP between two JVMs with the same
# durability (read from this disk, written to it and fdatasync'd every 64 MiB or second and at the
# end), and, for information, vs a memory-to-memory TCP copy; (b) 4 KiB random and 1 MiB sequential
# writes and reads of a 3-replica STRONG and a 3-replica EVENTUAL volume vs a 1-replica volume; (c)
# the same on a 1-replica volume of a fifth agent with encryption-at-rest on vs the plain one; (d)
# rebuild of a --sparse-size volume (default 8 GiB to keep the run short; the issue's figure is for
# 50 GiB) holding 64 MiB of scattered 4 KiB-1 MiB writes vs rebuilding a dense 64 MiB volume; (e) a
# follower of a 3-replica volume SIGKILLed, 10 s of random 4 KiB writes, started again: bytes its
# catch-up copied vs bytes written meanwhile; (f) a client's 4 KiB writes (QD1) to a 3-replica STRONG
# volume while one of its followers is rebuilt: p99 during the rebuild vs before it, and the rebuild
# target agent's RSS. Every figure is a ratio against a baseline of the same
# run. Bounded (a watchdog ends the run after --limit-s, default 480 s), stops every process it
# started by PID. Prints figures, asserts nothing.
# Usage: bench/datapath.sh [--rebuild-size=256MiB|1GiB] [--sparse-size=8GiB|50GiB] [--io-seconds=6]
#        [--limit-s=480]
# Set SKIP_BUILD=1 to reuse what an earlier run built, KEEP_LOGS=1 to keep the processes' logs of a
# run that succeeded (they are kept anyway when a phase fails).
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

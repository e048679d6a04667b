#!/usr/bin/env bash
# Heartbeat fan-in of the node API (bench/src/main/java/io/mycnet/storage/bench/nodeapi/):
# 1,000 simulated agents (one mutual-TLS channel and session each) heartbeating every 5 s against
# the production control plane process (OperatorMain over the Fabric8 mock API server), next to a
# plain gRPC unary ping baseline of the same run; the control plane's CPU share and heap with
# 10,000 registered nodes; a real agent's resident set.
# Bounded (about 4 minutes), stops every process it started. Prints figures, asserts nothing.
# Usage: bench/heartbeat-fanin.sh [--agents=1000] [--registered=10000] [--interval-s=5] [--measure-s=45]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
offline=()
if [ -d "${HOME}/.m2/repository/io/etcd/jetcd-core" ]; then offline=(-o); fi
mvn -B -q "${offline[@]}" -pl bench,node-agent -am install -DskipTests -Dspotless.check.skip=true >&2
mvn -B -q "${offline[@]}" -pl bench dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath >&2
mvn -B -q "${offline[@]}" -pl node-agent dependency:build-classpath -Dmdep.includeScope=runtime \
  -Dmdep.outputFile=target/agent.classpath >&2
agent_cp="node-agent/target/classes:$(cat node-agent/target/agent.classpath)"
exec java ${BENCH_JAVA_OPTS:--Xmx2g} -Dmycnet.mockserver.lib=bench/target/mock-server-lib \
  -cp "bench/target/classes:$(cat bench/target/bench.classpath)" \
  io.mycnet.storage.bench.nodeapi.HeartbeatFanInBenchmark --agent-classpath="$agent_cp" "$@"

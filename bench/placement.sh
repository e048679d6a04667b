#!/usr/bin/env bash
# Placement figures (bench/src/main/java/io/mycnet/storage/bench/placement/), each against its goal:
# placements per second at 100, 1,000, 10,000 and 100,000 nodes (JMH, with a flat straw2 scan as the
# same-run baseline) and time(10,000)/time(100); replicas moved when one node is added or removed,
# as a ratio to the optimum R*V/(N+1), next to a CRUSH-style per-level straw2 baseline; balance
# after 100,000 volumes. Bounded: about 4 minutes on 2 cores; stops by itself.
# Usage: bench/placement.sh [--no-jmh] [--volumes=300000]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
offline=()
if [ -d "${HOME}/.m2/repository/io/etcd/jetcd-core" ]; then offline=(-o); fi
# One Maven build at a time on this machine: take the shared lock if flock is there.
lock=()
if command -v flock >/dev/null 2>&1; then lock=(flock /tmp/mvn.lock); fi
"${lock[@]}" mvn -B -q "${offline[@]}" -pl bench -am install -DskipTests \
  -Dspotless.check.skip=true >&2
"${lock[@]}" mvn -B -q "${offline[@]}" -pl bench dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath >&2
exec java ${BENCH_JAVA_OPTS:--Xmx3g} -cp "bench/target/classes:$(cat bench/target/bench.classpath)" \
  io.mycnet.storage.bench.placement.PlacementReport "$@"

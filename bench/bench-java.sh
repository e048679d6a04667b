#!/usr/bin/env bash
# Runs a main class of the bench module (a JMH runner, a simulation) on the module's classpath,
# building the module and what it depends on first. Usage: bench/bench-java.sh CLASS [ARGS...]
# Example: bench/bench-java.sh org.openjdk.jmh.Main -f 1 -wi 3 -i 5 PlacementBenchmark
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
offline=()
if [ -d "${HOME}/.m2/repository/io/etcd/jetcd-core" ]; then offline=(-o); fi
mvn -B -q "${offline[@]}" -pl bench -am install -DskipTests -Dspotless.check.skip=true >&2
mvn -B -q "${offline[@]}" -pl bench dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath >&2
exec java ${BENCH_JAVA_OPTS:-} -cp "bench/target/classes:$(cat bench/target/bench.classpath)" "$@"

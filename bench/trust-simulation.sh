#!/usr/bin/env bash
# Trust engine figures: the Monte Carlo quarantine simulation (10,000 nodes, default policy,
# seeded) and the JMH evaluation-cost benchmark against a plain weighted-sum baseline measured in
# the same run. Prints figures; asserts nothing. Takes a few minutes on 2 cores and stops by itself.
#
# Usage: bench/trust-simulation.sh [seed] [nodes] [maxAudits]
#   TRUST_JMH_OPTS  JMH options (default: -f 1 -wi 3 -i 5 -w 1s -r 1s)
#   SKIP_BUILD=1    reuse bench/target/classes and bench/target/bench.classpath
#   MVN_LOCK        lock file serialising Maven builds on a shared machine (default /tmp/mvn.lock)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  offline=()
  if [ -d "${HOME}/.m2/repository/io/etcd/jetcd-core" ]; then offline=(-o); fi
  lock=()
  if command -v flock >/dev/null 2>&1; then lock=(flock "${MVN_LOCK:-/tmp/mvn.lock}"); fi
  # Build only main code (tests are the test suite's business), then write the classpath.
  "${lock[@]}" mvn -B -q "${offline[@]}" -pl bench -am install -Dmaven.test.skip=true \
    -Dspotless.check.skip=true >&2
  "${lock[@]}" mvn -B -q "${offline[@]}" -pl bench dependency:build-classpath \
    -Dmdep.outputFile=target/bench.classpath >&2
fi

cp="bench/target/classes:$(cat bench/target/bench.classpath)"
java ${BENCH_JAVA_OPTS:-} -cp "$cp" io.mycnet.storage.bench.trust.TrustSimulation "$@"
echo
# shellcheck disable=SC2086
java ${BENCH_JAVA_OPTS:-} -cp "$cp" io.mycnet.storage.bench.trust.TrustEvaluationBenchmark \
  ${TRUST_JMH_OPTS:--f 1 -wi 3 -i 5 -w 1s -r 1s}

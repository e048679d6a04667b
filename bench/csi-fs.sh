#!/usr/bin/env bash
# fio on an ext4 mounted through the CSI driver, next to the same fio on an ext4 on a loop device
# (direct I/O) over a local file, same run (bench/src/main/java/io/mycnet/storage/bench/csi/): a
# real etcd, the production control plane (OperatorMain over the Fabric8 mock API server, serving
# the CSI controller on its Unix socket) and three agents (each serving its CSI node plugin) as
# processes, the agents with the DaemonSet's JVM options. Volumes through the driver's RPCs as a
# kubelet and the sidecars send them (CreateVolume, ControllerPublishVolume, NodeStageVolume: NBD
# frontend, nbdfuse, loop device, mkfs.ext4, mount; NodePublishVolume), one per replica count
# (--replicas, default 2,3: a claim asks for at least 2 replicas), each step timed: the time from
# CreateVolume to a mounted file system. fio (libaio, direct=1) on one file per file system: 4 KiB
# randwrite and randread at QD16, 1 MiB sequential write and read at QD4, --io-seconds each
# (default 10). Prints the figures and the ratios driver / loop; asserts nothing. Bounded (a
# watchdog ends the run after --limit-s, default 600 s); stops every process it started by PID and
# releases every mount and loop device under its work directory. Needs root (mount, losetup), fio,
# nbdfuse (libnbd-bin), e2fsprogs.
# Usage: bench/csi-fs.sh [--io-seconds=10] [--volume-size=1GiB] [--fio-size=512MiB]
#                        [--replicas=2,3] [--limit-s=600]
# Set SKIP_BUILD=1 to reuse what an earlier run built.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="/usr/sbin:/sbin:$PATH"
for tool in fio nbdfuse losetup mkfs.ext4; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench/csi-fs.sh needs $tool (Debian packages: fio libnbd-bin util-linux e2fsprogs)" >&2
    exit 2
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "bench/csi-fs.sh mounts file systems and sets up loop devices: run it as root" >&2
  exit 2
fi
offline=()
if [ -d "${HOME}/.m2/repository/io/etcd/jetcd-core" ]; then offline=(-o); fi
if [ -z "${SKIP_BUILD:-}" ]; then
  # One reactor build (no install): each module's jar and runtime classpath under its target/.
  mvn -B -q "${offline[@]}" -pl bench,node-agent -am package dependency:build-classpath \
    -DskipTests -Dspotless.check.skip=true -Dmdep.includeScope=runtime \
    -Dmdep.outputFile=target/csi-fs.classpath >&2
fi
agent_cp="node-agent/target/classes:$(cat node-agent/target/csi-fs.classpath)"
exec java ${BENCH_JAVA_OPTS:--Xmx1g} -Dmycnet.mockserver.lib=bench/target/mock-server-lib \
  -cp "bench/target/classes:$(cat bench/target/csi-fs.classpath)" \
  io.mycnet.storage.bench.csi.CsiFsBenchmark --agent-classpath="$agent_cp" "$@"

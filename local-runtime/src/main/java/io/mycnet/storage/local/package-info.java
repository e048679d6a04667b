/**
 * What local mode and the benchmarks run in place of a Kubernetes cluster, on loopback: {@link
 * LocalApiServer}, the Kubernetes API (the Fabric8 mock server in CRUD mode, in its own class
 * loader), and the etcd process launcher ({@link EtcdBinary} finds the binary, {@link EtcdMember}
 * is one process, {@link EtcdCluster} one or more members under a fresh directory, stopped by PID).
 * This is product code: it ships in the {@code mycnet} distribution. The JUnit extension the tests
 * use on top of it is in test-support.
 */
package io.mycnet.storage.local;

/**
 * Test fixtures shared by every module's tests, used in test scope only. {@link EtcdExtension} is a
 * JUnit 5 extension that starts a single etcd or a three-member cluster before a test class and
 * stops it, by PID, afterwards, also when the tests fail; the processes themselves are
 * local-runtime's {@link io.mycnet.storage.local.EtcdCluster}. Nothing here is a mock: it runs the
 * {@code etcd} binary from {@code PATH} (or {@code MYCNET_ETCD_BIN}). Separate JVMs are started
 * with the product's own launcher, {@code io.mycnet.storage.common.process.ChildProcess}.
 */
package io.mycnet.storage.testsupport;

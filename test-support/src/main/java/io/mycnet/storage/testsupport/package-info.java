/**
 * Test fixtures shared by every module's tests, used in test scope only. {@link EtcdExtension} is a
 * JUnit 5 extension that starts a single etcd or a three-member cluster before a test class and
 * stops it, by PID, afterwards, also when the tests fail; the processes themselves are
 * local-runtime's {@link io.mycnet.storage.local.EtcdCluster}. {@link JavaProcess} runs a main
 * class in a separate JVM. Nothing here is a mock: it runs the {@code etcd} binary from {@code
 * PATH} (or {@code MYCNET_ETCD_BIN}).
 */
package io.mycnet.storage.testsupport;

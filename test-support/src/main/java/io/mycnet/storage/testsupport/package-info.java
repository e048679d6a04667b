/**
 * Test support shared by every module: real etcd processes on loopback. {@link EtcdExtension} is a
 * JUnit 5 extension that starts a single etcd or a three-member cluster ({@link EtcdCluster})
 * before a test class and stops it, by PID, afterwards, also when the tests fail. Nothing here is a
 * mock: it runs the {@code etcd} binary from {@code PATH} (or {@code MYCNET_ETCD_BIN}).
 */
package io.mycnet.storage.testsupport;

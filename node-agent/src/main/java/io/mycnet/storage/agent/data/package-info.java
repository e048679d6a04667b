/**
 * The node's data port ({@link io.mycnet.storage.agent.data.DataServer}): the volume I/O and
 * replica peer gRPC services behind mutual TLS, checked against the revocation list. It depends on
 * {@code replication}, {@code replica}, {@code identity} and {@code support}.
 */
package io.mycnet.storage.agent.data;

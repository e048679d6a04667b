/**
 * The control plane's gRPC node API (see {@code docs/node-protocol.md}): the join service on a
 * server-authenticated TLS port, and the session and renewal services on a mutual-TLS port where
 * the node id is taken from the peer certificate ({@link
 * io.mycnet.storage.operator.nodeapi.PeerIdentityInterceptor}), never from a message. {@link
 * io.mycnet.storage.operator.nodeapi.NodeApiServer} wires them with the CA, the token file, the
 * node registry and the command queues; the operator's composition root ({@code
 * runtime.ControlPlaneProcess}) serves it. What the control plane measures about nodes (heartbeat
 * presence, round trips, acknowledgement times) and what they report leaves through {@link
 * io.mycnet.storage.operator.nodeapi.NodeMeasurementListener}.
 */
package io.mycnet.storage.operator.nodeapi;

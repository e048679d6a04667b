/**
 * Benchmarks of the node API: heartbeat fan-in against a control plane process next to a plain gRPC
 * unary baseline, the agent's resident set, and the control plane's heap with many nodes. Run by
 * {@code bench/heartbeat-fanin.sh}; prints figures, asserts nothing.
 */
package io.mycnet.storage.bench.nodeapi;

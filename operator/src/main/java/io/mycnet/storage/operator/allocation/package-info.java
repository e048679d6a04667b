/**
 * The control plane's memory in etcd: allocations, node records and liveness, capacity and quota
 * accounting, and the per-node durable command queues. Its promise is that nothing acknowledged is
 * ever lost or applied twice, whatever process dies at whatever moment.
 *
 * <p>All reads and writes go through {@link io.mycnet.storage.operator.store.EtcdStore}. Values are
 * protobuf messages from {@code grpc-api} ({@code allocation.proto}, {@code nodes.proto}, {@code
 * commands.proto}, {@code trust.proto}), each with a {@code schema_version}.
 *
 * <h2>Key layout</h2>
 *
 * Under a configurable prefix ({@code /mycnet} by default):
 *
 * <table>
 *   <caption>etcd keys</caption>
 *   <tr><th>key</th><th>value</th><th>written by</th></tr>
 *   <tr><td>{@code allocations/<volume>}</td><td>{@code Allocation}</td>
 *       <td>allocate, release, resize, replication manager</td></tr>
 *   <tr><td>{@code usage/nodes/<node>}</td><td>{@code NodeUsage}: reserved bytes and replica
 *       count, always the exact sum over the allocations with a replica on the node</td>
 *       <td>the same transactions as the allocations</td></tr>
 *   <tr><td>{@code usage/namespaces/<ns>}</td><td>{@code NamespaceUsage}: used bytes and volume
 *       count, the exact sum over the namespace's allocations</td>
 *       <td>the same transactions as the allocations</td></tr>
 *   <tr><td>{@code nodes/<node>}</td><td>{@code NodeRecord}</td><td>join, replication
 *       manager</td></tr>
 *   <tr><td>{@code liveness/<node>}</td><td>last renewal time; attached to the node's lease</td>
 *       <td>heartbeats</td></tr>
 *   <tr><td>{@code commands/<node>/<command id>}</td><td>{@code NodeCommand}; its create
 *       revision is its place in the queue; written only when absent, deleted on
 *       acknowledgement</td><td>the transaction of the decision</td></tr>
 *   <tr><td>{@code slots/<slot>}</td><td>the node holding that placement slot</td>
 *       <td>registration</td></tr>
 *   <tr><td>{@code trust/<node>}</td><td>{@code NodeTrustState}: the trust engine's evidence
 *       about the node (decayed Beta weights per factor, vetting, quarantine, committed tier and
 *       score); restored by every new leader before it takes a decision</td>
 *       <td>the leader, coalesced: at most once per node every few seconds, at once on a change of
 *       tier or quarantine</td></tr>
 *     <tr><td>{@code leader}</td><td>the leading control plane's identity, attached to its lease;
 *       its create revision fences every write of the leader</td><td>leader election</td></tr>
 * </table>
 *
 * <h2>Transactions</h2>
 *
 * Each decision is one etcd transaction, guarded by the modification revisions of everything it was
 * computed from (the allocation key, each touched usage key, each queued command key) and, when
 * leader election is on, by the leadership key's create revision. On a conflict the decision is
 * re-read and re-made. A transaction whose answer was lost may have been applied: every operation
 * re-reads before deciding, so a retry finds its own earlier write and does not apply it again.
 */
package io.mycnet.storage.operator.allocation;

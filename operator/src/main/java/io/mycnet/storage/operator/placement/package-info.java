/**
 * Placement and re-replication planning: where every replica of a volume lives, and where it goes
 * when a node is lost, quarantined or loses trust. Pure Java: no Kubernetes, etcd or gRPC.
 *
 * <p>Inputs are immutable snapshots: {@link io.mycnet.storage.operator.placement.NodeView} per node
 * (topology from labels via {@link io.mycnet.storage.operator.placement.TopologyLabels}), gathered
 * into a {@link io.mycnet.storage.operator.placement.ClusterView} that is indexed once and then
 * serves many placements. {@link io.mycnet.storage.operator.placement.PlacementPlanner#place} turns
 * a {@link io.mycnet.storage.operator.placement.PlacementRequest} into a {@link
 * io.mycnet.storage.operator.placement.PlacementResult}, which on failure explains itself. {@link
 * io.mycnet.storage.operator.placement.ReplicationPlanner} plans rebuilds after a {@link
 * io.mycnet.storage.operator.placement.ReplicationEvent} (prioritised, throttled) and dry runs of a
 * changed view or policy.
 *
 * <p>Determinism and movement: each volume ranks nodes by a weighted rendezvous draw that depends
 * only on the volume id and the node's own placement slot and weight, found by a best-first search
 * in O(log N) per node; replicas are taken greedily in that order under nested failure-domain caps
 * (a laminar matroid). Hence: same inputs, same replicas; a node going out moves exactly its own
 * replicas; a node coming in receives replicas and no other replica moves. The strategies' precise
 * meanings are on {@link io.mycnet.storage.operator.placement.PlacementPlanner}.
 */
package io.mycnet.storage.operator.placement;

/**
 * Keeping every volume at its replication factor: the {@link
 * io.mycnet.storage.operator.replication.ReplicationManager} (failure detection, rebuild start and
 * completion, primary failover, movement under trust changes) and the periodic {@link
 * io.mycnet.storage.operator.replication.ReplicationLoop} that drives it. It depends on {@code
 * allocation}, {@code nodes}, {@code store}, {@code model} and {@code wire}; pool rules reach it
 * through its {@code PoolRules} interface, implemented in {@code pool}.
 */
package io.mycnet.storage.operator.replication;

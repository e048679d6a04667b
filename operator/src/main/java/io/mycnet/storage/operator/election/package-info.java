/**
 * Leader election over etcd ({@link io.mycnet.storage.operator.election.LeaderElection}): one
 * control plane leads at a time, and the create revision of its leadership key fences every write
 * it makes. It depends only on {@code store}.
 */
package io.mycnet.storage.operator.election;

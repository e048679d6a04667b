package io.mycnet.storage.agent.replication;

import com.google.common.util.concurrent.ListenableFuture;
import io.mycnet.storage.api.v1.ReadIndexRequest;
import io.mycnet.storage.api.v1.ReadIndexResponse;
import io.mycnet.storage.api.v1.ReplicaAck;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaWrite;

/**
 * The calls a replica makes to the other replicas of its set: the primary forwards each write to
 * its followers and asks them to confirm its role after a restart; a follower asks its primary
 * whether it may serve a read (ReadIndex). A refusal arrives as a failed future whose cause carries
 * the peer's gRPC status ({@code io.grpc.Status.fromThrowable}): "stale epoch" fences a primary,
 * anything else marks the follower out of sync. Calls are made on behalf of this node; the peer
 * learns the caller from the link (the node certificate over gRPC), never from the message.
 *
 * <p>{@link GrpcReplicaLink} is the agent's link over mutual TLS; tests connect replicas in one
 * JVM.
 */
public interface ReplicaLink {
  /** Forwards a write to {@code to}; answers with its applied sequence. */
  ListenableFuture<ReplicaAck> apply(ReplicaMember to, ReplicaWrite write, long deadlineMs);

  /** Asks {@code to} for its ReadIndex answer (its epoch, primary, position, in-sync set). */
  ListenableFuture<ReadIndexResponse> readIndex(
      ReplicaMember to, ReadIndexRequest request, long deadlineMs);
}

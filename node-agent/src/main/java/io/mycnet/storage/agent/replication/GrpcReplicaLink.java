package io.mycnet.storage.agent.replication;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.Context;
import io.mycnet.storage.api.v1.ReadIndexRequest;
import io.mycnet.storage.api.v1.ReadIndexResponse;
import io.mycnet.storage.api.v1.ReplicaAck;
import io.mycnet.storage.api.v1.ReplicaMember;
import io.mycnet.storage.api.v1.ReplicaWrite;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The replica link over the peers' data ports ({@link PeerChannels}: mutual TLS, the peer's node
 * certificate checked, revoked nodes refused).
 */
public final class GrpcReplicaLink implements ReplicaLink {
  private final PeerChannels peers;

  public GrpcReplicaLink(PeerChannels peers) {
    this.peers = peers;
  }

  @Override
  public ListenableFuture<ReplicaAck> apply(ReplicaMember to, ReplicaWrite write, long deadlineMs) {
    return outsideCallerContext(
        () ->
            peers
                .stub(to.getNodeId(), to.getAddress())
                .withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS)
                .apply(write));
  }

  @Override
  public ListenableFuture<ReadIndexResponse> readIndex(
      ReplicaMember to, ReadIndexRequest request, long deadlineMs) {
    return outsideCallerContext(
        () ->
            peers
                .stub(to.getNodeId(), to.getAddress())
                .withDeadlineAfter(deadlineMs, TimeUnit.MILLISECONDS)
                .readIndex(request));
  }

  /**
   * Starts a call outside the current gRPC context: a client's call context is cancelled as soon as
   * the client has its answer, which would cancel every forward still in flight (EVENTUAL
   * followers, rebuild targets).
   */
  private static <T> ListenableFuture<T> outsideCallerContext(Supplier<ListenableFuture<T>> call) {
    Context previous = Context.ROOT.attach();
    try {
      return call.get();
    } finally {
      Context.ROOT.detach(previous);
    }
  }
}

package io.mycnet.storage.agent.replication;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.mycnet.storage.agent.NodeAgent;
import io.mycnet.storage.agent.data.DataServer;
import io.mycnet.storage.agent.identity.IdentityKeys;
import io.mycnet.storage.agent.identity.Revocations;
import io.mycnet.storage.api.v1.ReplicaPeerGrpc;
import io.mycnet.storage.common.settings.HostPort;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * Mutual-TLS channels to other agents' data ports, one per peer address, authenticated with this
 * node's certificate ({@link IdentityKeys}); the peer must present the certificate of the node id
 * the control plane named (the channel's authority is the node id, which is the certificate's
 * dNSName). A call to a node the control plane revoked ({@link Revocations}) fails at once with
 * PERMISSION_DENIED, on new and existing channels alike: this agent neither forwards writes to a
 * removed node nor rebuilds from it.
 */
public final class PeerChannels implements AutoCloseable {
  private final IdentityKeys keys;
  private final Revocations revocations;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

  public PeerChannels(IdentityKeys keys, Revocations revocations) {
    this.keys = keys;
    this.revocations = revocations;
  }

  /** True when {@code nodeId} is on the control plane's revocation list. */
  public boolean revoked(String nodeId) {
    return revocations.nodeRevoked(nodeId);
  }

  /** Fails every call to {@code nodeId} while it is revoked. */
  private ClientInterceptor refuseRevoked(String nodeId) {
    return new ClientInterceptor() {
      @Override
      public <Q, A> ClientCall<Q, A> interceptCall(
          MethodDescriptor<Q, A> method, CallOptions options, Channel next) {
        if (!revocations.nodeRevoked(nodeId)) {
          return next.newCall(method, options);
        }
        return new ClientCall<Q, A>() {
          @Override
          public void start(Listener<A> listener, Metadata headers) {
            listener.onClose(
                Status.PERMISSION_DENIED.withDescription(
                    "peer node " + nodeId + " is revoked: no replica traffic to or from it"),
                new Metadata());
          }

          @Override
          public void request(int n) {}

          @Override
          public void cancel(String message, Throwable cause) {}

          @Override
          public void halfClose() {}

          @Override
          public void sendMessage(Q message) {}
        };
      }
    };
  }

  public ReplicaPeerGrpc.ReplicaPeerFutureStub stub(String nodeId, String address) {
    return ReplicaPeerGrpc.newFutureStub(channel(nodeId, address))
        .withInterceptors(refuseRevoked(nodeId));
  }

  public ReplicaPeerGrpc.ReplicaPeerBlockingStub blocking(String nodeId, String address) {
    return ReplicaPeerGrpc.newBlockingStub(channel(nodeId, address))
        .withInterceptors(refuseRevoked(nodeId));
  }

  /**
   * {@code VolumeIo} of another agent, as this node's block frontend uses it (the node certificate
   * is the caller; the peer admits it while this node is attached to the volume).
   */
  public io.mycnet.storage.api.v1.VolumeIoGrpc.VolumeIoBlockingStub volumeIo(
      String nodeId, String address) {
    return io.mycnet.storage.api.v1.VolumeIoGrpc.newBlockingStub(channel(nodeId, address))
        .withInterceptors(refuseRevoked(nodeId));
  }

  ManagedChannel channel(String nodeId, String address) {
    return channels.computeIfAbsent(
        nodeId + "@" + address,
        k -> {
          HostPort peer;
          try {
            peer = HostPort.parse(address);
          } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("peer address " + e.getMessage(), e);
          }
          SslContext tls;
          try {
            tls =
                GrpcSslContexts.forClient()
                    .keyManager(keys.keyManager())
                    .trustManager(keys.trustManager())
                    .build();
          } catch (SSLException e) {
            throw new IllegalStateException("cannot set up TLS to peer " + nodeId, e);
          }
          return NettyChannelBuilder.forAddress(peer.host(), peer.port())
              .sslContext(tls)
              .overrideAuthority(nodeId)
              .maxInboundMessageSize(DataServer.MAX_MESSAGE_BYTES)
              .keepAliveTime(NodeAgent.KEEPALIVE_TIME.toSeconds(), TimeUnit.SECONDS)
              .build();
        });
  }

  @Override
  public void close() {
    channels.values().forEach(ManagedChannel::shutdownNow);
  }
}

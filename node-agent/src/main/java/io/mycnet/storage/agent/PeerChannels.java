package io.mycnet.storage.agent;

import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.mycnet.storage.api.v1.ReplicaPeerGrpc;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * Mutual-TLS channels to other agents' data ports, one per peer address, authenticated with this
 * node's certificate ({@link IdentityKeys}); the peer must present the certificate of the node id
 * the control plane named (the channel's authority is the node id, which is the certificate's
 * dNSName).
 */
final class PeerChannels implements AutoCloseable {
  private final IdentityKeys keys;
  private final Map<String, ManagedChannel> channels = new ConcurrentHashMap<>();

  PeerChannels(IdentityKeys keys) {
    this.keys = keys;
  }

  ReplicaPeerGrpc.ReplicaPeerFutureStub stub(String nodeId, String address) {
    return ReplicaPeerGrpc.newFutureStub(channel(nodeId, address));
  }

  ReplicaPeerGrpc.ReplicaPeerBlockingStub blocking(String nodeId, String address) {
    return ReplicaPeerGrpc.newBlockingStub(channel(nodeId, address));
  }

  ManagedChannel channel(String nodeId, String address) {
    return channels.computeIfAbsent(
        nodeId + "@" + address,
        k -> {
          int colon = address.lastIndexOf(':');
          if (colon <= 0) {
            throw new IllegalArgumentException("peer address '" + address + "' is not host:port");
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
          return NettyChannelBuilder.forAddress(
                  address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)))
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

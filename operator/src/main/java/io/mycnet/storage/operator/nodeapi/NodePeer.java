package io.mycnet.storage.operator.nodeapi;

import io.grpc.Context;
import java.net.SocketAddress;
import java.security.cert.X509Certificate;

/** What the node API knows about the caller, in the gRPC {@link Context}. */
public final class NodePeer {
  /** The node id: the CN of the verified peer certificate (mutual-TLS port only). */
  public static final Context.Key<String> NODE_ID = Context.key("mycnet-node-id");

  /** The verified peer certificate (mutual-TLS port only). */
  public static final Context.Key<X509Certificate> CERTIFICATE = Context.key("mycnet-node-cert");

  /** The remote address of the connection (both ports). */
  public static final Context.Key<SocketAddress> REMOTE_ADDRESS =
      Context.key("mycnet-remote-address");

  private NodePeer() {}

  /** The host part of the caller's address, "unknown" when there is none. */
  public static String remoteHost() {
    SocketAddress a = REMOTE_ADDRESS.get();
    if (a instanceof java.net.InetSocketAddress i) {
      return i.getAddress() != null ? i.getAddress().getHostAddress() : i.getHostString();
    }
    return a == null ? "unknown" : a.toString();
  }
}

package io.mycnet.storage.operator.nodeapi;

import io.grpc.netty.shaded.io.grpc.netty.GrpcHttp2ConnectionHandler;
import io.grpc.netty.shaded.io.grpc.netty.InternalProtocolNegotiator;
import io.grpc.netty.shaded.io.netty.buffer.ByteBuf;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.handler.ssl.NotSslRecordException;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.grpc.netty.shaded.io.netty.util.AsciiString;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import javax.net.ssl.SSLException;

/**
 * Wraps gRPC's server TLS negotiation so that refused connections are logged once per peer address
 * and reason ({@link RefusalLog}): a plaintext (non-TLS) client, and a TLS handshake that failed
 * (no client certificate, a certificate from another CA). gRPC itself logs these only at FINE
 * level, so without this an operator would never learn why an agent cannot connect.
 *
 * <p>The connection is refused all the same: the first-bytes check only looks, the TLS handler
 * fails the handshake.
 */
final class TlsGuard implements InternalProtocolNegotiator.ProtocolNegotiator {
  private static final int TLS_HANDSHAKE_RECORD = 0x16;

  private final InternalProtocolNegotiator.ProtocolNegotiator delegate;
  private final RefusalLog refusals;
  private final String portName;

  TlsGuard(
      InternalProtocolNegotiator.ProtocolNegotiator delegate,
      RefusalLog refusals,
      String portName) {
    this.delegate = delegate;
    this.refusals = refusals;
    this.portName = portName;
  }

  @Override
  public AsciiString scheme() {
    return delegate.scheme();
  }

  @Override
  public ChannelHandler newHandler(GrpcHttp2ConnectionHandler grpcHandler) {
    ChannelHandler tls = delegate.newHandler(grpcHandler);
    return new ChannelHandlerAdapter() {
      @Override
      public void handlerAdded(ChannelHandlerContext ctx) {
        ctx.pipeline().addBefore(ctx.name(), null, new FirstBytesCheck());
        ctx.pipeline().addBefore(ctx.name(), null, tls);
        ctx.pipeline().addBefore(ctx.name(), null, new HandshakeFailureLog());
        ctx.pipeline().remove(this);
      }
    };
  }

  @Override
  public void close() {
    delegate.close();
  }

  private static String host(SocketAddress a) {
    if (a instanceof InetSocketAddress i && i.getAddress() != null) {
      return i.getAddress().getHostAddress();
    }
    return String.valueOf(a);
  }

  /** Looks at the first byte: a TLS connection starts with a handshake record. */
  private final class FirstBytesCheck extends ChannelInboundHandlerAdapter {
    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
      if (msg instanceof ByteBuf b && b.isReadable()) {
        if (b.getUnsignedByte(b.readerIndex()) != TLS_HANDSHAKE_RECORD) {
          String host = host(ctx.channel().remoteAddress());
          refusals.refused(
              "plaintext:" + portName + ":" + host,
              "plaintext (non-TLS) connection from "
                  + host
                  + " to the "
                  + portName
                  + " port: the node API speaks TLS only"
                  + (portName.equals("session")
                      ? " with a node certificate (mutual TLS); join first"
                      : ""));
        }
        ctx.pipeline().remove(this);
      }
      super.channelRead(ctx, msg);
    }
  }

  /** Logs TLS handshake failures once per peer address and reason. */
  private final class HandshakeFailureLog extends ChannelInboundHandlerAdapter {
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof SslHandshakeCompletionEvent e && e.isSuccess()) {
        ctx.pipeline().remove(this);
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
      Throwable t = cause;
      while (t.getCause() != null && !(t instanceof SSLException)) {
        t = t.getCause();
      }
      if (t instanceof SSLException && !(t instanceof NotSslRecordException)) {
        String host = host(ctx.channel().remoteAddress());
        Throwable root = t;
        while (root.getCause() != null) {
          root = root.getCause();
        }
        String reason = String.valueOf(root.getMessage());
        refusals.refused(
            "tls:" + portName + ":" + host + ":" + reason,
            "TLS handshake with "
                + host
                + " on the "
                + portName
                + " port failed: "
                + reason
                + (portName.equals("session")
                    ? " (the session port needs a node certificate from this control plane's CA)"
                    : ""));
      }
      super.exceptionCaught(ctx, cause);
    }
  }
}

package io.mycnet.storage.agent.session;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.mycnet.storage.agent.AgentConfig;
import io.mycnet.storage.agent.identity.NodeIdentity;
import io.mycnet.storage.api.v1.JoinRequest;
import io.mycnet.storage.api.v1.JoinResponse;
import io.mycnet.storage.api.v1.NodeJoinGrpc;
import io.mycnet.storage.common.settings.HostPort;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x500.style.IETFUtils;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's certificate: the stored one while it is valid and names this node, else a join with
 * the bootstrap token (a new key pair, a CSR, the certificate saved in the data directory).
 */
final class NodeJoin {
  private static final Logger LOG = LoggerFactory.getLogger(NodeJoin.class);

  private final AgentConfig cfg;

  NodeJoin(AgentConfig cfg) {
    this.cfg = cfg;
  }

  /** {@code id} if it can be used at {@code now}, else null (expired, or of another node id). */
  NodeIdentity usable(NodeIdentity id, Instant now) throws CertificateEncodingException {
    if (id != null && id.expired(now)) {
      LOG.info("node certificate expired at {}: joining again", id.notAfter());
      return null;
    }
    if (id != null
        && !cfg.nodeId()
            .equals(
                IETFUtils.valueToString(
                    new JcaX509CertificateHolder(id.certificate())
                        .getSubject()
                        .getRDNs(BCStyle.CN)[0]
                        .getFirst()
                        .getValue()))) {
      LOG.info("stored certificate is for another node id: joining as {}", cfg.nodeId());
      return null;
    }
    return id;
  }

  /** Joins with the bootstrap token; the data port is announced at {@code advertisedAddress}. */
  NodeIdentity join(String advertisedAddress) {
    if (cfg.tokenFile() == null) {
      throw new IllegalStateException(
          "the node has no valid certificate and no token-file is set: set --token-file to join");
    }
    String token = AgentConfig.readToken(cfg.tokenFile());
    List<X509Certificate> ca = joinTrust();
    KeyPair kp = NodeIdentity.joinKeyPair(cfg.dataDir());
    JoinRequest req =
        JoinRequest.newBuilder()
            .setBootstrapToken(token)
            .setNodeId(cfg.nodeId())
            .setCsrDer(ByteString.copyFrom(NodeIdentity.csr(kp, cfg.nodeId())))
            .setTopologyPath(cfg.topology())
            .setOwner(cfg.owner())
            .setCapacityBytes(cfg.capacityBytes())
            .setAddress(advertisedAddress)
            .setAgentVersion(AgentSession.VERSION)
            .putAllLabels(cfg.labels())
            .build();
    ManagedChannel ch = channelTo(cfg.joinAddress(), NodeIdentity.joinTls(ca)).build();
    try {
      JoinResponse resp =
          NodeJoinGrpc.newBlockingStub(ch)
              .withDeadlineAfter(AgentSession.CALL_DEADLINE.toMillis(), TimeUnit.MILLISECONDS)
              .join(req);
      NodeIdentity id = NodeIdentity.save(cfg.dataDir(), kp.getPrivate(), resp.getCertificate());
      LOG.info(
          "joined the control plane at {} as node {}: certificate {} valid until {}",
          cfg.joinAddress(),
          cfg.nodeId(),
          id.serial(),
          id.notAfter());
      return id;
    } catch (StatusRuntimeException e) {
      String why = String.valueOf(e.getStatus().getDescription());
      if (e.getStatus().getCode() == Status.Code.PERMISSION_DENIED
          && (why.contains("was removed from the cluster")
              || why.contains("join with a new key"))) {
        // Removed by an operator: the key it was removed with is of no further use; a join after
        // the re-admission must bring a new one.
        NodeIdentity.discardKey(cfg.dataDir());
      }
      throw e;
    } finally {
      ch.shutdownNow();
    }
  }

  /** The CA to verify the join server with: the configured ca-file, else the stored bundle. */
  private List<X509Certificate> joinTrust() {
    try {
      if (cfg.caFile() != null) {
        return NodeIdentity.parseCertificates(Files.readString(cfg.caFile()));
      }
      Path stored = NodeIdentity.dir(cfg.dataDir()).resolve("ca.crt");
      if (Files.exists(stored)) {
        return NodeIdentity.parseCertificates(Files.readString(stored));
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the CA file", e);
    }
    throw new IllegalStateException("no CA to verify the control plane with: set --ca-file");
  }

  /**
   * A channel to the control plane: mutual TLS with {@code tls}, keepalive pings every {@link
   * AgentSession#KEEPALIVE_TIME} also without calls, so a dead path is noticed between heartbeats.
   */
  static NettyChannelBuilder channelTo(String address, SslContext tls) {
    HostPort to = HostPort.parse(address);
    return NettyChannelBuilder.forAddress(to.host(), to.port())
        .sslContext(tls)
        .keepAliveTime(AgentSession.KEEPALIVE_TIME.toSeconds(), TimeUnit.SECONDS)
        .keepAliveTimeout(AgentSession.KEEPALIVE_TIMEOUT.toSeconds(), TimeUnit.SECONDS)
        .keepAliveWithoutCalls(true);
  }
}

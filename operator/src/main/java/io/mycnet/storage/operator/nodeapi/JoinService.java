package io.mycnet.storage.operator.nodeapi;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.mycnet.storage.api.v1.IssuedCertificate;
import io.mycnet.storage.api.v1.JoinRequest;
import io.mycnet.storage.api.v1.JoinResponse;
import io.mycnet.storage.api.v1.NodeJoinGrpc;
import io.mycnet.storage.api.v1.NodeRecord;
import io.mycnet.storage.api.v1.NodeState;
import io.mycnet.storage.api.v1.RevocationRecord;
import io.mycnet.storage.api.v1.TokenUseRecord;
import io.mycnet.storage.common.settings.HostPort;
import io.mycnet.storage.operator.model.TopologyPath;
import io.mycnet.storage.operator.nodes.NodeRegistry;
import io.mycnet.storage.operator.security.BootstrapTokens;
import io.mycnet.storage.operator.security.CertificateAuthority;
import io.mycnet.storage.operator.security.CsrRejectedException;
import io.mycnet.storage.operator.security.NodeCertificate;
import io.mycnet.storage.operator.security.NodeIds;
import io.mycnet.storage.operator.security.SecurityStore;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import io.mycnet.storage.operator.store.Txn;
import io.mycnet.storage.operator.store.Versioned;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code NodeJoin.Join}: bootstrap token + CSR in, node certificate + CA bundle out. See {@code
 * join.proto} for the status codes.
 */
final class JoinService extends NodeJoinGrpc.NodeJoinImplBase {
  private static final Logger LOG = LoggerFactory.getLogger(JoinService.class);
  private static final int MAX_ATTEMPTS = 20;

  private final NodeApiSettings settings;
  private final CertificateAuthority ca;
  private final BootstrapTokens tokens;
  private final SecurityStore security;
  private final NodeRegistry registry;
  private final RefusalLog refusals;
  private final Cache<String, AtomicInteger> failures =
      Caffeine.newBuilder().maximumSize(100_000).expireAfterWrite(Duration.ofMinutes(1)).build();

  JoinService(
      NodeApiSettings settings,
      CertificateAuthority ca,
      BootstrapTokens tokens,
      SecurityStore security,
      NodeRegistry registry,
      RefusalLog refusals) {
    this.settings = settings;
    this.ca = ca;
    this.tokens = tokens;
    this.security = security;
    this.registry = registry;
    this.refusals = refusals;
  }

  @Override
  public void join(JoinRequest req, StreamObserver<JoinResponse> out) {
    String host = NodePeer.remoteHost();
    try {
      out.onNext(doJoin(req, host));
      out.onCompleted();
    } catch (StatusRuntimeException e) {
      out.onError(e);
    } catch (StoreUnavailableException e) {
      refusals.refused(
          "join-etcd:" + host, "join of " + req.getNodeId() + " failed: " + e.getMessage());
      out.onError(
          Status.UNAVAILABLE
              .withDescription("the control plane cannot reach etcd right now; retry later")
              .asRuntimeException());
    }
  }

  private JoinResponse doJoin(JoinRequest req, String host) {
    AtomicInteger failed = failures.getIfPresent(host);
    if (failed != null && failed.get() >= settings.joinFailuresPerMinute()) {
      refusals.refused("join-rate:" + host, "too many failed joins from " + host);
      throw Status.RESOURCE_EXHAUSTED
          .withDescription(
              "too many failed join attempts from "
                  + host
                  + " (limit "
                  + settings.joinFailuresPerMinute()
                  + " per minute); fix the token and retry in a minute")
          .asRuntimeException();
    }
    String nodeId = req.getNodeId();
    validate(req);

    BootstrapTokens.Check check = tokens.check(req.getBootstrapToken());
    if (check instanceof BootstrapTokens.Refused r) {
      throw deny(host, Status.UNAUTHENTICATED, "join-token:" + r.tokenId(), nodeId, r.reason());
    }
    BootstrapTokens.Token token = ((BootstrapTokens.Accepted) check).token();
    Optional<RevocationRecord> nodeRevoked = security.nodeRevocation(nodeId);
    if (nodeRevoked.isPresent()) {
      throw removed(host, nodeId, nodeRevoked.get());
    }
    Optional<RevocationRecord> tokenRevoked = security.tokenRevocation(token.id());
    if (tokenRevoked.isPresent()) {
      throw deny(
          host,
          Status.PERMISSION_DENIED,
          "join-token-revoked:" + token.id(),
          nodeId,
          "bootstrap token "
              + token.id()
              + " was revoked at "
              + Instant.ofEpochMilli(tokenRevoked.get().getRevokedAtUnixMs())
              + " ("
              + tokenRevoked.get().getReason()
              + "): ask for a new token");
    }
    PKCS10CertificationRequest csr;
    try {
      csr = ca.checkCsr(req.getCsrDer().toByteArray(), nodeId);
    } catch (CsrRejectedException e) {
      throw Status.INVALID_ARGUMENT
          .withDescription("csr_der: " + e.getMessage())
          .asRuntimeException();
    }
    byte[] key = keySha256(csr.getSubjectPublicKeyInfo());
    NodeCertificate cert = null;
    boolean rebound = false;
    for (int attempt = 0; ; attempt++) {
      if (attempt >= MAX_ATTEMPTS) {
        throw new StoreUnavailableException("join of " + nodeId + " kept conflicting", null);
      }
      // Everything the join writes is one transaction guarded on what it read here: the node's
      // record, the token's use and the id's revocation. A refusal writes nothing.
      Versioned<NodeRecord> current = registry.getVersioned(nodeId);
      Versioned<TokenUseRecord> use =
          token.usage() == BootstrapTokens.Usage.SINGLE_USE ? security.tokenUse(token.id()) : null;
      if (current.exists()) {
        NodeRecord r = current.value();
        // Re-admitted (removed, and its id's revocation deleted by an operator): open for one join
        // with a new key. Otherwise only the bound key may repeat a join.
        boolean open = r.getState() == NodeState.NODE_STATE_REMOVED;
        boolean same = r.getBoundKeySha256().equals(ByteString.copyFrom(key));
        if (open && same) {
          throw deny(
              host,
              Status.PERMISSION_DENIED,
              "join-old-key:" + nodeId,
              nodeId,
              "node "
                  + nodeId
                  + " was re-admitted: the key it was removed with stays refused; join with a new"
                  + " key");
        }
        if (!open && !same) {
          throw deny(
              host,
              Status.ALREADY_EXISTS,
              "join-bound:" + nodeId,
              nodeId,
              "node "
                  + nodeId
                  + " is already registered with live certificates; an operator must re-admit"
                  + " it: mycnet node readmit "
                  + nodeId);
        }
        rebound = open;
      }
      if (use != null && use.exists() && !use.value().getNodeId().equals(nodeId)) {
        throw deny(
            host,
            Status.PERMISSION_DENIED,
            "join-token-spent:" + token.id() + ":" + nodeId,
            nodeId,
            "bootstrap token "
                + token.id()
                + " is single-use and was already used by node "
                + use.value().getNodeId()
                + ": ask for a new token");
      }
      if (cert == null) {
        cert = ca.signNode(csr, nodeId, serverHosts(req.getAddress()));
      }
      Txn txn = registry.txn().requireAbsent(security.revokedNodeKey(nodeId));
      if (use != null) {
        security.addTokenUse(txn, use, token.id(), nodeId);
      }
      List<String> live = security.addIssued(txn, cert, token.id());
      NodeRecord reported =
          NodeRecord.newBuilder()
              .setNodeId(nodeId)
              .setTopologyPath(TopologyPath.parse(req.getTopologyPath()).toString())
              .setOwner(req.getOwner())
              .setCapacityBytes(req.getCapacityBytes())
              .setAddress(req.getAddress())
              .putAllLabels(req.getLabelsMap())
              .setBoundKeySha256(ByteString.copyFrom(key))
              .addAllCertificateSerials(live)
              .build();
      if (!current.exists()) {
        registry.addCreation(txn, reported);
      } else {
        NodeRecord r = current.value();
        NodeRecord.Builder next =
            r.toBuilder().clearCertificateSerials().addAllCertificateSerials(live);
        if (rebound) {
          // A re-admitted node registers afresh: what it reports now, bound to its new key, UP.
          // Its placement slot and join time stay (the id is the same node to the operator).
          next.setTopologyPath(reported.getTopologyPath())
              .setOwner(reported.getOwner())
              .setCapacityBytes(reported.getCapacityBytes())
              .setAddress(reported.getAddress())
              .clearLabels()
              .putAllLabels(reported.getLabelsMap())
              .setBoundKeySha256(reported.getBoundKeySha256())
              .setState(NodeState.NODE_STATE_UP)
              .setRemovedAtUnixMs(0)
              .setRemovedReason("")
              .setLeaseLostAtUnixMs(0)
              .setLastSeenUnixMs(ca.clock().millis());
        }
        txn.requireUnchanged(current).put(current.key(), next.build());
      }
      if (txn.commit()) {
        break;
      }
      Optional<RevocationRecord> revokedNow = security.nodeRevocation(nodeId);
      if (revokedNow.isPresent()) {
        throw removed(host, nodeId, revokedNow.get()); // removed while this join was decided
      }
    }
    if (rebound) {
      LOG.info("node {} re-admitted: bound to a new key at its join from {}", nodeId, host);
    }
    LOG.info(
        "node {} joined from {} with {} token {} (certificate {} valid until {})",
        nodeId,
        host,
        token.usage(),
        token.id(),
        cert.serial(),
        cert.notAfter());
    return JoinResponse.newBuilder()
        .setCertificate(issued(ca, cert))
        .setHeartbeatIntervalMs(settings.heartbeatInterval().toMillis())
        .build();
  }

  /** SHA-256 of a public key's DER SubjectPublicKeyInfo: what a node id is bound to. */
  static byte[] keySha256(SubjectPublicKeyInfo spki) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(spki.getEncoded());
    } catch (java.io.IOException | NoSuchAlgorithmException e) {
      throw new IllegalStateException("cannot hash a public key", e);
    }
  }

  /** SHA-256 of a certificate's public key (DER SubjectPublicKeyInfo). */
  static byte[] keySha256(java.security.cert.X509Certificate cert) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(cert.getPublicKey().getEncoded());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("cannot hash a public key", e);
    }
  }

  static IssuedCertificate issued(CertificateAuthority ca, NodeCertificate cert) {
    return IssuedCertificate.newBuilder()
        .setCertificatePem(cert.pem())
        .setCaBundlePem(ca.bundlePem())
        .setSerial(cert.serial())
        .setNotBeforeUnixMs(cert.notBefore().toEpochMilli())
        .setNotAfterUnixMs(cert.notAfter().toEpochMilli())
        .setRenewAfterUnixMs(cert.renewAfter().toEpochMilli())
        .build();
  }

  /** The refusal of a join for a removed node (agents recognise "was removed from the cluster"). */
  private StatusRuntimeException removed(String host, String nodeId, RevocationRecord r) {
    return deny(
        host,
        Status.PERMISSION_DENIED,
        "join-node-revoked:" + nodeId,
        nodeId,
        "node "
            + nodeId
            + " was removed from the cluster at "
            + Instant.ofEpochMilli(r.getRevokedAtUnixMs())
            + " ("
            + r.getReason()
            + "): an administrator must re-admit it before it can join again");
  }

  private StatusRuntimeException deny(
      String host, Status status, String key, String nodeId, String why) {
    failures.get(host, h -> new AtomicInteger()).incrementAndGet();
    refusals.refused(key + ":" + host, "join of node " + nodeId + " from " + host + ": " + why);
    return status.withDescription(why).asRuntimeException();
  }

  private static void validate(JoinRequest req) {
    String p = NodeIds.problem(req.getNodeId());
    if (p != null) {
      throw invalid("node_id: " + p);
    }
    try {
      TopologyPath.parse(req.getTopologyPath());
    } catch (IllegalArgumentException e) {
      throw invalid("topology_path: " + e.getMessage());
    }
    if (req.getOwner().isBlank()) {
      throw invalid("owner is empty: set the node's owner (mycnet.io/owner)");
    }
    if (req.getCapacityBytes() <= 0) {
      throw invalid(
          "capacity_bytes must be positive, was " + req.getCapacityBytes() + ": set the capacity");
    }
    try {
      HostPort.parse(req.getAddress());
    } catch (IllegalArgumentException e) {
      throw invalid("address " + e.getMessage());
    }
    if (req.getCsrDer().isEmpty()) {
      throw invalid("csr_der is empty: send a PKCS#10 CSR in DER encoding");
    }
  }

  private static StatusRuntimeException invalid(String why) {
    return Status.INVALID_ARGUMENT.withDescription(why).asRuntimeException();
  }

  /** The host of a node's data address, for its certificate's SANs (none when unparsable). */
  static java.util.List<String> serverHosts(String address) {
    try {
      return java.util.List.of(io.mycnet.storage.common.settings.HostPort.parse(address).host());
    } catch (IllegalArgumentException e) {
      return java.util.List.of();
    }
  }
}

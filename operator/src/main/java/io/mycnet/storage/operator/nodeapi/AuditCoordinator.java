package io.mycnet.storage.operator.nodeapi;

import com.google.protobuf.ByteString;
import io.mycnet.storage.api.v1.Allocation;
import io.mycnet.storage.api.v1.AuditReplica;
import io.mycnet.storage.api.v1.CommandResult;
import io.mycnet.storage.api.v1.NodeCommand;
import io.mycnet.storage.api.v1.Replica;
import io.mycnet.storage.api.v1.ReplicaState;
import io.mycnet.storage.operator.nodes.CommandQueue;
import io.mycnet.storage.operator.store.EtcdKeys;
import io.mycnet.storage.operator.store.EtcdStore;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.operator.trust.TrustEvidence;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Challenge/response audits of a volume's replicas: sends every HEALTHY replica's node the same
 * fresh nonce and byte range ({@code AuditReplica}, through the durable command queue), collects
 * the HMAC-SHA256 answers, and fails every replica that disagrees with the majority: integrity
 * evidence against its node ({@link NodeMeasurementListener#onIntegrityEvidence}) and a repair
 * ({@link ReplicaEvents#replicaUnhealthy}, i.e. ReplicationManager.replicaFailedAudit). Agreeing
 * replicas earn positive evidence. Without a strict majority nothing is failed (the outcome says
 * so); an unanswered challenge is reported, not counted as a failure.
 */
public final class AuditCoordinator {
  private static final Logger LOG = LoggerFactory.getLogger(AuditCoordinator.class);

  /** What one audit found. {@code answers}: node -> hex digest or the error. */
  public record Outcome(
      String volumeId, Map<String, String> answers, List<String> failed, String note) {}

  private final EtcdStore store;
  private final EtcdKeys keys;
  private final CommandQueue queue;
  private final NodeApiServer server;
  private final NodeMeasurementListener listener;
  private final ReplicaEvents events;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  public AuditCoordinator(
      EtcdStore store,
      EtcdKeys keys,
      CommandQueue queue,
      NodeApiServer server,
      NodeMeasurementListener listener,
      ReplicaEvents events,
      Clock clock) {
    this.store = store;
    this.keys = keys;
    this.queue = queue;
    this.server = server;
    this.listener = listener;
    this.events = events;
    this.clock = clock;
  }

  /**
   * One audit pass: every volume, its whole range, every healthy replica. Never throws (it runs on
   * a timer); a failed pass is logged and the next one tries again.
   */
  public void auditEverything() {
    try {
      for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
        Allocation a = v.value();
        if (a.getSizeBytes() <= 0) {
          continue;
        }
        Outcome o = audit(a.getVolumeId(), 0, a.getSizeBytes(), Duration.ofSeconds(30));
        LOG.info("audit of {}: {} {}", a.getVolumeId(), o.note(), o.failed());
      }
    } catch (RuntimeException e) {
      LOG.warn("audit pass failed: {}", e.toString());
    }
  }

  /** Audits {@code [offset, offset+length)} of every healthy replica of the volume. */
  public Outcome audit(String volumeId, long offset, long length, Duration timeout) {
    Versioned<Allocation> v = store.get(keys.allocation(volumeId), Allocation.parser());
    if (!v.exists()) {
      throw new IllegalArgumentException("no volume " + volumeId);
    }
    Allocation a = v.value();
    if (offset < 0 || length <= 0 || offset > a.getSizeBytes() - length) {
      throw new IllegalArgumentException(
          "audit range " + offset + "+" + length + " is outside the volume's " + a.getSizeBytes());
    }
    byte[] nonce = new byte[32];
    random.nextBytes(nonce);
    String tag = HexFormat.of().formatHex(nonce, 0, 8);
    Map<String, CompletableFuture<CommandResult>> waits = new LinkedHashMap<>();
    for (Replica r : a.getReplicasList()) {
      if (r.getState() != ReplicaState.REPLICA_STATE_HEALTHY) {
        continue;
      }
      String id = "audit:" + volumeId + ":" + a.getEpoch() + ":" + tag + ":" + r.getNodeId();
      waits.put(r.getNodeId(), server.awaitResult(id));
      queue.enqueue(
          r.getNodeId(),
          NodeCommand.newBuilder()
              .setCommandId(id)
              .setIssuedAtUnixMs(clock.millis())
              .setAuditReplica(
                  AuditReplica.newBuilder()
                      .setVolumeId(volumeId)
                      .setEpoch(a.getEpoch())
                      .setNonce(ByteString.copyFrom(nonce))
                      .setOffset(offset)
                      .setLength(length))
              .build());
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    Map<String, String> answers = new LinkedHashMap<>();
    Map<String, Integer> votes = new HashMap<>();
    List<String> failedToAnswer = new ArrayList<>();
    for (Map.Entry<String, CompletableFuture<CommandResult>> e : waits.entrySet()) {
      try {
        CommandResult r =
            e.getValue().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (r.getOk()) {
          String d = HexFormat.of().formatHex(r.getAuditDigest().toByteArray());
          answers.put(e.getKey(), d);
          votes.merge(d, 1, Integer::sum);
        } else {
          answers.put(e.getKey(), "error: " + r.getMessage());
          failedToAnswer.add(e.getKey());
        }
      } catch (java.util.concurrent.TimeoutException ex) {
        answers.put(e.getKey(), "no answer in " + timeout);
      } catch (Exception ex) {
        answers.put(e.getKey(), "no answer: " + ex);
      }
    }
    String majority = null;
    for (Map.Entry<String, Integer> e : votes.entrySet()) {
      if (e.getValue() * 2 > waits.size()) {
        majority = e.getKey();
      }
    }
    List<String> failed = new ArrayList<>();
    if (majority == null) {
      LOG.warn("audit of {}: no majority among {}", volumeId, answers);
      return new Outcome(volumeId, answers, failed, "no majority: nothing failed");
    }
    for (Map.Entry<String, String> e : answers.entrySet()) {
      String node = e.getKey();
      if (e.getValue().equals(majority)) {
        listener.onIntegrityEvidence(
            node, volumeId, TrustEvidence.AuditKind.CHALLENGE, true, "audit passed");
      } else if (e.getValue().length() == 64 || failedToAnswer.contains(node)) {
        failed.add(node);
        String why =
            "audit of "
                + volumeId
                + " bytes "
                + offset
                + "+"
                + length
                + ": "
                + e.getValue()
                + " disagrees with the majority";
        LOG.warn("{} failed: {}", node, why);
        listener.onIntegrityEvidence(node, volumeId, TrustEvidence.AuditKind.CHALLENGE, false, why);
        events.replicaUnhealthy(volumeId, node, why);
      }
    }
    return new Outcome(volumeId, answers, failed, failed.isEmpty() ? "all agree" : "failed");
  }
}

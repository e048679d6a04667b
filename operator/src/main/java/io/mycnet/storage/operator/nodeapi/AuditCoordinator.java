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
import io.mycnet.storage.operator.store.KeyValueStore;
import io.mycnet.storage.operator.store.Versioned;
import io.mycnet.storage.operator.trust.TrustEvidence;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Challenge/response audits of a volume's replicas: sends every HEALTHY replica's node the same
 * fresh nonce and byte range ({@code AuditReplica}, through the durable command queue, at most
 * {@link #MAX_RANGE} bytes) and collects the HMAC-SHA256 answers, each pinned to the write sequence
 * and epoch it covers (the agent hashes its state after exactly that many writes, holding its write
 * order).
 *
 * <p>Only answers at the same (epoch, sequence) are compared ({@link #decide}). A replica is failed
 * when a strict majority of the answering replicas agree on one digest at one (epoch, sequence) and
 * it answered there with another digest (or answered with an error): integrity evidence against its
 * node ({@link NodeMeasurementListener#onIntegrityEvidence}) and a repair ({@link
 * ReplicaEvents#replicaUnhealthy}, i.e. ReplicationManager.replicaFailedAudit). Agreeing replicas
 * earn positive evidence, also one that answered the majority's digest at another sequence (the
 * range did not change between the two). A replica that answered another digest at another sequence
 * or epoch (a follower a few writes behind, or one that answered while writes were in flight) is
 * neither failed nor credited: the audit is inconclusive for it, logged as such, and it is audited
 * again on the next pass ({@code MYCNET_AUDIT_INTERVAL}; no sooner retry: under a steady writer an
 * immediate one would mostly race the same way while reading the range again). Without a majority
 * nothing is failed (the outcome says so); an unanswered challenge is reported, not counted as a
 * failure.
 */
public final class AuditCoordinator {
  private static final Logger LOG = LoggerFactory.getLogger(AuditCoordinator.class);

  /**
   * The longest range one {@code AuditReplica} covers: the agent hashes it holding the replica's
   * write order, so it refuses longer ones (node-agent ReplicatedVolume.MAX_AUDIT_BYTES). A volume
   * is audited in ranges of at most this size.
   */
  public static final long MAX_RANGE = 16L << 20;

  /**
   * What one audit found. {@code answers}: node -> hex digest with the epoch and write sequence it
   * covers, or the error; {@code failed}: the replicas failed; {@code inconclusive}: the replicas
   * whose answer could not be compared (another sequence or epoch than the majority, or no majority
   * at any).
   */
  public record Outcome(
      String volumeId,
      Map<String, String> answers,
      List<String> failed,
      List<String> inconclusive,
      String note) {}

  /**
   * One replica's answer: a hex digest over its state after write {@code sequence} at {@code
   * epoch}, or an error ({@code digest} null, {@code error} why).
   */
  record Answer(String digest, long epoch, long sequence, String error) {
    static Answer digest(String hex, long epoch, long sequence) {
      return new Answer(hex, epoch, sequence, null);
    }

    static Answer error(String why) {
      return new Answer(null, 0, 0, why);
    }

    boolean samePlace(Answer o) {
      return o.digest != null && digest != null && o.epoch == epoch && o.sequence == sequence;
    }

    String place() {
      return "epoch " + epoch + " write " + sequence;
    }

    @Override
    public String toString() {
      return digest == null ? "error: " + error : digest + " at " + place();
    }
  }

  /**
   * The decision over the answers of one audit. {@code majority}: the answer a strict majority of
   * the answering replicas gave at one (epoch, sequence), else one whose digest a strict majority
   * gave at whatever sequences (null: neither); {@code agreeing} answered its digest (the bytes of
   * the range are the same, even when the sequences differ: the range did not change between them),
   * {@code failed} answered another digest at the majority's epoch and sequence (or an error),
   * {@code inconclusive} answered another digest elsewhere, or there was no majority.
   */
  record Verdict(
      Answer majority,
      List<String> agreeing,
      List<String> failed,
      List<String> inconclusive,
      String note) {}

  /**
   * Decides an audit from the answers that came back ({@code answers}: node -> answer; replicas
   * that did not answer in time are not in it). Digests are compared only at the same (epoch,
   * sequence): a replica is failed only when more than half of the answering replicas agree on one
   * digest at one (epoch, sequence) and it answered there with another digest, or answered with an
   * error. A replica whose digest equals the majority's agrees whatever its sequence (an HMAC under
   * a fresh nonce cannot match without the same bytes); one with another digest at another sequence
   * or epoch is inconclusive, never failed.
   */
  static Verdict decide(Map<String, Answer> answers) {
    int answering = answers.size();
    Map<Answer, Integer> atPlace = new LinkedHashMap<>();
    Map<String, Integer> byDigest = new LinkedHashMap<>();
    Set<String> places = new LinkedHashSet<>();
    for (Answer a : answers.values()) {
      if (a.digest() != null) {
        atPlace.merge(a, 1, Integer::sum);
        byDigest.merge(a.digest(), 1, Integer::sum);
        places.add(a.place());
      }
    }
    Answer majority = null;
    for (Map.Entry<Answer, Integer> e : atPlace.entrySet()) {
      if (e.getValue() * 2 > answering) {
        majority = e.getKey();
      }
    }
    boolean pinned = majority != null;
    if (!pinned) {
      for (Map.Entry<String, Integer> e : byDigest.entrySet()) {
        if (e.getValue() * 2 > answering) {
          for (Answer a : answers.values()) {
            if (e.getKey().equals(a.digest())) {
              majority = a;
              break;
            }
          }
        }
      }
    }
    List<String> agreeing = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    List<String> inconclusive = new ArrayList<>();
    if (majority == null) {
      if (places.size() <= 1) {
        return new Verdict(null, agreeing, failed, inconclusive, "no majority: nothing failed");
      }
      answers.forEach(
          (node, a) -> {
            if (a.digest() != null) {
              inconclusive.add(node);
            }
          });
      return new Verdict(
          null,
          agreeing,
          failed,
          inconclusive,
          "inconclusive for "
              + inconclusive
              + ": answers at "
              + places.size()
              + " different write sequences, no majority at any; nothing failed");
    }
    for (Map.Entry<String, Answer> e : answers.entrySet()) {
      Answer a = e.getValue();
      if (majority.digest().equals(a.digest())) {
        agreeing.add(e.getKey());
      } else if (pinned && (a.digest() == null || a.samePlace(majority))) {
        failed.add(e.getKey());
      } else {
        inconclusive.add(e.getKey());
      }
    }
    String note;
    if (!failed.isEmpty()) {
      note = "failed";
    } else if (!inconclusive.isEmpty()) {
      note =
          "inconclusive for "
              + inconclusive
              + (pinned
                  ? ": another digest at another write sequence than the majority's "
                      + majority.place()
                  : ": another digest than the majority's, which answered at different write"
                      + " sequences")
              + "; nothing failed";
    } else {
      note = "all agree";
    }
    return new Verdict(majority, agreeing, failed, inconclusive, note);
  }

  private final KeyValueStore store;
  private final EtcdKeys keys;
  private final CommandQueue queue;
  private final NodeApiServer server;
  private final NodeMeasurementListener listener;
  private final ReplicaEvents events;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();

  public AuditCoordinator(
      KeyValueStore store,
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
   * One audit pass: every volume, its whole range in parts of at most {@link #MAX_RANGE}, every
   * healthy replica; a volume's pass stops at the first part that fails a replica (its repair
   * starts; the rest is audited on the next pass). Logs one line per volume: {@code audit of VOL:
   * all agree []} when every part agreed, else the first part's note that did not, and the replicas
   * failed. Never throws (it runs on a timer); a failed pass is logged and the next one tries
   * again.
   */
  public void auditEverything() {
    try {
      for (Versioned<Allocation> v : store.list(keys.allocations(), Allocation.parser())) {
        Allocation a = v.value();
        if (a.getSizeBytes() <= 0) {
          continue;
        }
        String note = "all agree";
        List<String> failed = new ArrayList<>();
        for (long off = 0; off < a.getSizeBytes() && failed.isEmpty(); off += MAX_RANGE) {
          long len = Math.min(MAX_RANGE, a.getSizeBytes() - off);
          Outcome o = audit(a.getVolumeId(), off, len, Duration.ofSeconds(30));
          failed.addAll(o.failed());
          if (note.equals("all agree") && !o.note().equals("all agree")) {
            note =
                o.note() + (a.getSizeBytes() > MAX_RANGE ? " (bytes " + off + "+" + len + ")" : "");
          }
        }
        LOG.info("audit of {}: {} {}", a.getVolumeId(), note, failed);
      }
    } catch (RuntimeException e) {
      LOG.warn("audit pass failed: {}", e.toString());
    }
  }

  /**
   * Audits {@code [offset, offset+length)} of every healthy replica of the volume ({@code length}
   * at most {@link #MAX_RANGE}).
   */
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
    if (length > MAX_RANGE) {
      throw new IllegalArgumentException(
          "audit range "
              + offset
              + "+"
              + length
              + " is longer than "
              + MAX_RANGE
              + " bytes (agents hash a range holding the replica's write order): audit it in"
              + " parts");
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
    if (waits.isEmpty()) {
      // E.g. a volume whose replicas are still being created: nothing to compare yet.
      return new Outcome(volumeId, Map.of(), List.of(), List.of(), "no healthy replica to audit");
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    Map<String, String> shown = new LinkedHashMap<>();
    Map<String, Answer> answers = new LinkedHashMap<>();
    List<String> unanswered = new ArrayList<>();
    for (Map.Entry<String, CompletableFuture<CommandResult>> e : waits.entrySet()) {
      try {
        CommandResult r =
            e.getValue().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        Answer answer =
            r.getOk()
                ? Answer.digest(
                    HexFormat.of().formatHex(r.getAuditDigest().toByteArray()),
                    r.getAuditEpoch(),
                    r.getAuditSequence())
                : Answer.error(r.getMessage());
        answers.put(e.getKey(), answer);
        shown.put(e.getKey(), answer.toString());
      } catch (java.util.concurrent.TimeoutException ex) {
        shown.put(e.getKey(), "no answer in " + timeout);
        unanswered.add(e.getKey());
      } catch (Exception ex) {
        shown.put(e.getKey(), "no answer: " + ex);
        unanswered.add(e.getKey());
      }
    }
    Verdict d = decide(answers);
    if (d.majority() == null) {
      LOG.warn("audit of {} bytes {}+{}: {}: {}", volumeId, offset, length, d.note(), shown);
      return new Outcome(volumeId, shown, d.failed(), d.inconclusive(), d.note());
    }
    for (String node : d.agreeing()) {
      listener.onIntegrityEvidence(
          node, volumeId, TrustEvidence.AuditKind.CHALLENGE, true, "audit passed");
    }
    for (String node : d.failed()) {
      String why =
          "audit of "
              + volumeId
              + " bytes "
              + offset
              + "+"
              + length
              + ": "
              + answers.get(node)
              + " disagrees with the majority ("
              + d.agreeing().size()
              + " of "
              + answers.size()
              + " answering replicas: "
              + d.majority()
              + ")";
      LOG.warn("{} failed: {}", node, why);
      listener.onIntegrityEvidence(node, volumeId, TrustEvidence.AuditKind.CHALLENGE, false, why);
      events.replicaUnhealthy(volumeId, node, why);
    }
    if (!d.inconclusive().isEmpty()) {
      LOG.info("audit of {} bytes {}+{}: {}: {}", volumeId, offset, length, d.note(), shown);
    }
    String note = d.note();
    if (note.equals("all agree") && !unanswered.isEmpty()) {
      // Unchanged from before the pinning: the ones that answered agree; the others are reported.
      LOG.warn(
          "audit of {} bytes {}+{}: no answer from {}: {}",
          volumeId,
          offset,
          length,
          unanswered,
          shown);
    }
    return new Outcome(volumeId, shown, d.failed(), d.inconclusive(), note);
  }
}

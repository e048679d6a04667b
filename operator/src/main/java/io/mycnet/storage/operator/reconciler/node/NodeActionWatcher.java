package io.mycnet.storage.operator.reconciler.node;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.mycnet.storage.operator.attachment.AttachmentRefusedException;
import io.mycnet.storage.operator.attachment.AttachmentService;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.security.NodeAdmission;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the operator actions requested by annotations on a Kubernetes {@code Node} whose name is
 * the node id:
 *
 * <ul>
 *   <li>{@value #REMOVE}{@code : "<reason>"}: {@link NodeAdmission#remove} (idempotent);
 *   <li>{@value #READMIT}{@code : "<any nonce>"}: {@link NodeAdmission#readmit};
 *   <li>{@value #ATTACH}{@code : "<kubernetes namespace>/<claim>"} or {@code "<kubernetes
 *       namespace>/<claim>:ro"}: {@link AttachmentService#attachClaim} of the claim's volume to
 *       this node, read-write or read-only;
 *   <li>{@value #DETACH}{@code : "<kubernetes namespace>/<claim>"}: {@link
 *       AttachmentService#detachClaim};
 *   <li>{@value #FENCE}{@code : "<reason>"}: {@link AttachmentService#fence} (every attachment of
 *       the node is revoked and its volume's epoch raised).
 * </ul>
 *
 * One action per request: two of them set at once are refused.
 *
 * <p>An applied (or refused) request is taken off the object in the same patch that writes its
 * result to {@value #RESULT}: {@code "<request-id> <action> <ok|unchanged|refused>: <message>"},
 * where the request id is the value of {@value #REQUEST_ID} ({@code -} when none was set). Each
 * action is logged and recorded as an Event about the Node ({@code NodeRemoved}, {@code
 * NodeReadmitted}, {@code VolumeAttached}, {@code VolumeDetached}, {@code NodeFenced}, {@code
 * NodeActionRefused}). Only the leading control plane applies requests; the informer's resync hands
 * a new leader whatever is still pending.
 */
public final class NodeActionWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeActionWatcher.class);
  public static final String REMOVE = "storage.mycnet.io/remove";
  public static final String READMIT = "storage.mycnet.io/readmit";
  public static final String ATTACH = "storage.mycnet.io/attach";
  public static final String DETACH = "storage.mycnet.io/detach";
  public static final String FENCE = "storage.mycnet.io/fence";

  /** The action annotations, in the order their names appear in a result. */
  private static final Map<String, String> ACTIONS = new LinkedHashMap<>();

  static {
    ACTIONS.put(REMOVE, "remove");
    ACTIONS.put(READMIT, "readmit");
    ACTIONS.put(ATTACH, "attach");
    ACTIONS.put(DETACH, "detach");
    ACTIONS.put(FENCE, "fence");
  }

  /** The suffix of an {@value #ATTACH} value asking for a read-only attachment. */
  public static final String READ_ONLY_SUFFIX = ":ro";

  public static final String REQUEST_ID = "storage.mycnet.io/request-id";
  public static final String RESULT = "storage.mycnet.io/result";
  private static final long RESYNC_MS = 30_000;

  private final KubernetesClient client;
  private final NodeAdmission admission;
  private final AttachmentService attachments;
  private final KubeEvents events;
  private final BooleanSupplier leading;
  private final ExecutorService executor =
      Executors.newSingleThreadExecutor(
          r -> {
            Thread t = new Thread(r, "node-actions");
            t.setDaemon(true);
            return t;
          });
  private SharedIndexInformer<Node> informer;

  /** A watcher of removal and readmission only: attach, detach and fence are refused. */
  public NodeActionWatcher(
      KubernetesClient client,
      NodeAdmission admission,
      KubeEvents events,
      BooleanSupplier leading) {
    this(client, admission, null, events, leading);
  }

  public NodeActionWatcher(
      KubernetesClient client,
      NodeAdmission admission,
      AttachmentService attachments,
      KubeEvents events,
      BooleanSupplier leading) {
    this.client = client;
    this.admission = admission;
    this.attachments = attachments;
    this.events = events;
    this.leading = leading;
  }

  /** Starts watching the Node objects. */
  public synchronized NodeActionWatcher start() {
    if (informer != null) {
      return this;
    }
    informer =
        client
            .nodes()
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Node n) {
                    submit(n);
                  }

                  @Override
                  public void onUpdate(Node before, Node n) {
                    submit(n);
                  }

                  @Override
                  public void onDelete(Node n, boolean unknownFinalState) {}
                },
                RESYNC_MS);
    return this;
  }

  private void submit(Node n) {
    if (pending(n.getMetadata().getAnnotations())) {
      executor.execute(() -> apply(n.getMetadata().getName()));
    }
  }

  /** Applies the request pending on the Node of that name, if any (also run by the informer). */
  public void apply(String name) {
    if (!leading.getAsBoolean()) {
      return;
    }
    Node n;
    try {
      n = client.nodes().withName(name).get();
    } catch (KubernetesClientException e) {
      LOG.warn("cannot read Node {}: {}", name, e.getMessage());
      return;
    }
    Map<String, String> a = n == null ? null : n.getMetadata().getAnnotations();
    if (!pending(a)) {
      return;
    }
    String requestId = a.get(REQUEST_ID) == null ? "-" : a.get(REQUEST_ID);
    List<String> set = new ArrayList<>();
    for (String k : ACTIONS.keySet()) {
      if (a.get(k) != null) {
        set.add(k);
      }
    }
    String action = set.stream().map(ACTIONS::get).collect(Collectors.joining("+"));
    String result;
    if (set.size() > 1) {
      result =
          refused(
              n,
              (set.size() == 2 ? "both " : "")
                  + String.join(", ", set.subList(0, set.size() - 1))
                  + " and "
                  + set.get(set.size() - 1)
                  + " are set on node "
                  + name
                  + ": set one of them at a time");
    } else {
      String value = a.get(set.get(0));
      try {
        Outcome o = perform(action, name, value, requestId);
        if (o.changed()) {
          events.normal(n, o.reason(), o.message());
        }
        result = (o.changed() ? "ok: " : "unchanged: ") + o.message();
      } catch (NodeAdmission.RefusedException | AttachmentRefusedException e) {
        result = refused(n, e.getMessage());
      } catch (IllegalArgumentException e) {
        result = refused(n, "node " + name + ": " + e.getMessage());
      } catch (StoreUnavailableException e) {
        LOG.warn(
            "node {} {}: etcd unavailable, retried at the next resync: {}",
            name,
            action,
            e.getMessage());
        return;
      }
    }
    String text = requestId + " " + action + " " + result;
    try {
      // Take the request off and write its result in one update of the object.
      client
          .nodes()
          .withName(name)
          .edit(
              cur -> {
                Map<String, String> next = new LinkedHashMap<>();
                if (cur.getMetadata().getAnnotations() != null) {
                  next.putAll(cur.getMetadata().getAnnotations());
                }
                ACTIONS.keySet().forEach(next::remove);
                next.remove(REQUEST_ID);
                next.put(RESULT, text);
                return new NodeBuilder(cur)
                    .editMetadata()
                    .withAnnotations(next)
                    .endMetadata()
                    .build();
              });
    } catch (KubernetesClientException e) {
      LOG.warn("cannot write the result of {} on Node {}: {}", action, name, e.getMessage());
    }
  }

  private static boolean pending(Map<String, String> a) {
    return a != null && ACTIONS.keySet().stream().anyMatch(k -> a.get(k) != null);
  }

  /** What an applied action did, and the reason of its event. */
  private record Outcome(boolean changed, String message, NodeReason reason) {}

  private Outcome perform(String action, String node, String value, String requestId) {
    switch (action) {
      case "remove" -> {
        NodeAdmission.Outcome o = admission.remove(node, value);
        return new Outcome(o.changed(), o.message(), NodeReason.NODE_REMOVED);
      }
      case "readmit" -> {
        NodeAdmission.Outcome o = admission.readmit(node);
        return new Outcome(o.changed(), o.message(), NodeReason.NODE_READMITTED);
      }
      default -> {
        if (attachments == null) {
          throw new AttachmentRefusedException(
              "this control plane does not manage attachments; " + action + " is not available");
        }
        AttachmentService.Outcome o;
        NodeReason reason;
        if (action.equals("attach")) {
          String claim = value.strip();
          boolean readOnly = claim.endsWith(READ_ONLY_SUFFIX);
          if (readOnly) {
            claim = claim.substring(0, claim.length() - READ_ONLY_SUFFIX.length());
          }
          o =
              attachments.attachClaim(
                  claim, node, readOnly, ATTACH + " (request " + requestId + ")");
          reason = NodeReason.VOLUME_ATTACHED;
        } else if (action.equals("detach")) {
          o = attachments.detachClaim(value, node, "detached by " + DETACH);
          reason = NodeReason.VOLUME_DETACHED;
        } else {
          o = attachments.fence(node, value);
          reason = NodeReason.NODE_FENCED;
        }
        return new Outcome(o.changed(), o.message(), reason);
      }
    }
  }

  private String refused(Node n, String why) {
    LOG.warn("node action refused: {}", why);
    events.warning(n, NodeReason.NODE_ACTION_REFUSED, why);
    return "refused: " + why;
  }

  @Override
  public synchronized void close() {
    if (informer != null) {
      informer.close();
      informer = null;
    }
    executor.shutdownNow();
    try {
      executor.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

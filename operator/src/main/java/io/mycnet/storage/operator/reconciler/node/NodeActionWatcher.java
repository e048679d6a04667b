package io.mycnet.storage.operator.reconciler.node;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.mycnet.storage.operator.reconciler.KubeEvents;
import io.mycnet.storage.operator.security.NodeAdmission;
import io.mycnet.storage.operator.store.StoreUnavailableException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the operator actions requested by annotations on a Kubernetes {@code Node} whose name is
 * the node id:
 *
 * <ul>
 *   <li>{@value #REMOVE}{@code : "<reason>"}: {@link NodeAdmission#remove} (idempotent);
 *   <li>{@value #READMIT}{@code : "<any nonce>"}: {@link NodeAdmission#readmit}.
 * </ul>
 *
 * An applied (or refused) request is taken off the object in the same patch that writes its result
 * to {@value #RESULT}: {@code "<request-id> <action> <ok|unchanged|refused>: <message>"}, where the
 * request id is the value of {@value #REQUEST_ID} ({@code -} when none was set). Each action is
 * logged and recorded as an Event about the Node ({@code NodeRemoved}, {@code NodeReadmitted},
 * {@code NodeActionRefused}). Only the leading control plane applies requests; the informer's
 * resync hands a new leader whatever is still pending.
 */
public final class NodeActionWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeActionWatcher.class);
  public static final String REMOVE = "storage.mycnet.io/remove";
  public static final String READMIT = "storage.mycnet.io/readmit";
  public static final String REQUEST_ID = "storage.mycnet.io/request-id";
  public static final String RESULT = "storage.mycnet.io/result";
  private static final long RESYNC_MS = 30_000;

  private final KubernetesClient client;
  private final NodeAdmission admission;
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

  public NodeActionWatcher(
      KubernetesClient client,
      NodeAdmission admission,
      KubeEvents events,
      BooleanSupplier leading) {
    this.client = client;
    this.admission = admission;
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
    String action;
    String result;
    if (a.get(REMOVE) != null && a.get(READMIT) != null) {
      action = "remove+readmit";
      result =
          refused(
              n,
              "both "
                  + REMOVE
                  + " and "
                  + READMIT
                  + " are set on node "
                  + name
                  + ": set one of them at a time");
    } else {
      action = a.get(REMOVE) != null ? "remove" : "readmit";
      try {
        NodeAdmission.Outcome o =
            action.equals("remove")
                ? admission.remove(name, a.get(REMOVE))
                : admission.readmit(name);
        if (o.changed()) {
          events.normal(
              n,
              action.equals("remove") ? NodeReason.NODE_REMOVED : NodeReason.NODE_READMITTED,
              o.message());
        }
        result = (o.changed() ? "ok: " : "unchanged: ") + o.message();
      } catch (NodeAdmission.RefusedException e) {
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
                next.remove(REMOVE);
                next.remove(READMIT);
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
    return a != null && (a.get(REMOVE) != null || a.get(READMIT) != null);
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

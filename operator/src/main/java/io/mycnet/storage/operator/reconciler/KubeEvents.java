package io.mycnet.storage.operator.reconciler;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Clock;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records Kubernetes Events ({@code kubectl describe} shows them) for state changes of the custom
 * resources. Events are sent from one background thread so that a slow API server does not slow
 * reconciliation; when more than {@code 1024} are waiting the newest is dropped with a log line
 * (events are best-effort, the status is the record).
 */
public final class KubeEvents implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KubeEvents.class);
  public static final String NORMAL = "Normal";
  public static final String WARNING = "Warning";
  public static final String COMPONENT = "mycnet-operator";

  /** Namespace of events about cluster-scoped resources. */
  public static final String CLUSTER_EVENTS_NAMESPACE = "default";

  private final KubernetesClient client;
  private final Clock clock;
  private final ThreadPoolExecutor executor;
  private final AtomicLong sequence = new AtomicLong();

  public KubeEvents(KubernetesClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
    this.executor =
        new ThreadPoolExecutor(
            1,
            1,
            0,
            TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(1024),
            r -> {
              Thread t = new Thread(r, "kube-events");
              t.setDaemon(true);
              return t;
            },
            (r, e) -> LOG.warn("event queue full, an event was dropped"));
  }

  public void normal(HasMetadata about, Reason reason, String message) {
    record(about, NORMAL, reason.text(), message);
  }

  public void warning(HasMetadata about, Reason reason, String message) {
    record(about, WARNING, reason.text(), message);
  }

  /** An event with a reason taken from a condition (which has it from a {@link Reason}). */
  public void normal(HasMetadata about, String reason, String message) {
    record(about, NORMAL, reason, message);
  }

  /** An event with a reason taken from a condition (which has it from a {@link Reason}). */
  public void warning(HasMetadata about, String reason, String message) {
    record(about, WARNING, reason, message);
  }

  private void record(HasMetadata about, String type, String reason, String message) {
    String ns = about.getMetadata().getNamespace();
    String namespace = ns == null || ns.isEmpty() ? CLUSTER_EVENTS_NAMESPACE : ns;
    String now = Conditions.format(clock.instant());
    var event =
        new EventBuilder()
            .withNewMetadata()
            .withNamespace(namespace)
            .withName(
                about.getMetadata().getName()
                    + "."
                    + Long.toHexString(clock.millis())
                    + Long.toHexString(sequence.incrementAndGet()))
            .endMetadata()
            .withInvolvedObject(
                new ObjectReferenceBuilder()
                    .withApiVersion(about.getApiVersion())
                    .withKind(about.getKind())
                    .withName(about.getMetadata().getName())
                    .withNamespace(ns)
                    .withUid(about.getMetadata().getUid())
                    .withResourceVersion(about.getMetadata().getResourceVersion())
                    .build())
            .withType(type)
            .withReason(reason)
            .withMessage(Conditions.truncate(message))
            .withFirstTimestamp(now)
            .withLastTimestamp(now)
            .withCount(1)
            .withReportingComponent(COMPONENT)
            .withNewSource()
            .withComponent(COMPONENT)
            .endSource()
            .build();
    executor.execute(
        () -> {
          try {
            client.v1().events().inNamespace(namespace).resource(event).create();
          } catch (RuntimeException e) {
            LOG.debug(
                "could not record event {} on {}: {}",
                reason,
                about.getMetadata().getName(),
                e.getMessage());
          }
        });
  }

  /** Waits up to {@code millis} for queued events to be sent (tests, shutdown). */
  public void flush(long millis) {
    long deadline = System.currentTimeMillis() + millis;
    while ((executor.getActiveCount() > 0 || !executor.getQueue().isEmpty())
        && System.currentTimeMillis() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  @Override
  public void close() {
    flush(2000);
    executor.shutdownNow();
  }
}

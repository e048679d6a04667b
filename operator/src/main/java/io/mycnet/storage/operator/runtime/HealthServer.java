package io.mycnet.storage.operator.runtime;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.mycnet.storage.operator.trust.TrustAssessment;
import io.mycnet.storage.operator.trust.TrustEngine;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * {@code /metrics} (Prometheus text format), {@code /livez} and {@code /readyz} on the JDK's HTTP
 * server. A probe answers 200 with "ok" or 503 with the failing checks, one per line. {@code
 * /trust} lists every node's trust ({@code node<TAB>score<TAB>tier} lines) and {@code /trust/NODE}
 * answers one node's explanation (404 for a node without a record): what {@code mycnet status} and
 * {@code mycnet node explain} show. Because trust explanations name each node's failing gates
 * (which node lacks encryption), {@code /trust} is only ever served on a loopback address: on the
 * probes' port when that binds loopback (local mode), else on a listener of its own ({@link
 * #trustOnly}) that a cluster reaches only through {@code kubectl port-forward}.
 */
final class HealthServer implements AutoCloseable {
  private final HttpServer server;

  /**
   * @param live checks for /livez: name to a supplier of null (healthy) or the problem
   * @param ready checks for /readyz, same shape
   */
  HealthServer(
      InetSocketAddress bind,
      PrometheusMeterRegistry metrics,
      Map<String, Supplier<String>> live,
      Map<String, Supplier<String>> ready,
      TrustEngine trust)
      throws IOException {
    this(bind);
    server.createContext(
        "/metrics",
        ex -> respond(ex, 200, metrics.scrape(), "text/plain; version=0.0.4; charset=utf-8"));
    server.createContext("/livez", ex -> probe(ex, live));
    server.createContext("/readyz", ex -> probe(ex, ready));
    if (trust != null) {
      serveTrust(trust);
    }
  }

  /** A listener that serves only {@code /trust}, on a loopback address. */
  static HealthServer trustOnly(int port, TrustEngine trust) throws IOException {
    HealthServer s =
        new HealthServer(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    s.serveTrust(trust);
    return s;
  }

  private HealthServer(InetSocketAddress bind) throws IOException {
    server = HttpServer.create(bind, 0);
    server.setExecutor(
        Executors.newFixedThreadPool(
            2,
            r -> {
              Thread t = new Thread(r, "health-http");
              t.setDaemon(true);
              return t;
            }));
  }

  private void serveTrust(TrustEngine trust) {
    server.createContext("/trust", ex -> trust(ex, trust));
  }

  private static void trust(HttpExchange ex, TrustEngine trust) throws IOException {
    String path = ex.getRequestURI().getPath();
    String text = "text/plain; charset=utf-8";
    if (path.equals("/trust") || path.equals("/trust/")) {
      StringBuilder out = new StringBuilder();
      for (String node : new TreeSet<>(trust.nodeIds())) {
        TrustAssessment a = trust.assess(node);
        out.append(String.format(Locale.ROOT, "%s\t%.3f\t%s%n", node, a.score(), a.tier()));
      }
      respond(ex, 200, out.toString(), text);
      return;
    }
    String node = path.substring("/trust/".length());
    if (!trust.nodeIds().contains(node)) {
      respond(ex, 404, "no trust record for node '" + node + "'\n", text);
      return;
    }
    respond(ex, 200, trust.assess(node).render(), text);
  }

  void start() {
    server.start();
  }

  int port() {
    return server.getAddress().getPort();
  }

  InetSocketAddress address() {
    return server.getAddress();
  }

  private static void probe(HttpExchange ex, Map<String, Supplier<String>> checks)
      throws IOException {
    StringBuilder problems = new StringBuilder();
    for (Map.Entry<String, Supplier<String>> c : checks.entrySet()) {
      String p;
      try {
        p = c.getValue().get();
      } catch (RuntimeException e) {
        p = e.toString();
      }
      if (p != null) {
        problems.append(c.getKey()).append(": ").append(p).append('\n');
      }
    }
    if (problems.length() == 0) {
      respond(ex, 200, "ok\n", "text/plain; charset=utf-8");
    } else {
      respond(ex, 503, problems.toString(), "text/plain; charset=utf-8");
    }
  }

  private static void respond(HttpExchange ex, int code, String body, String type)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(code, bytes.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}

package io.mycnet.storage.local;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.base.CustomResourceDefinitionContext;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.stream.Stream;

/**
 * The Kubernetes API of local mode, the benchmarks and the operator's tests: the Fabric8 mock API
 * server in CRUD mode (it stores what it is sent and serves reads, watches and status updates),
 * loaded in its own class loader.
 *
 * <p>Why its own class loader: the mock server 7.5.2 is built on Vert.x 4, while jetcd brings
 * Vert.x 5 onto the same classpath, and Vert.x 4's web layer cannot run on Vert.x 5 (watches fail
 * with {@code NoSuchMethodError: ServerWebSocket.accept()}). So the mock server, Vert.x 4 and their
 * web modules are loaded child-first from the jars the build copies into a directory of their own
 * (system property {@code mycnet.mockserver.lib}: {@code dist/mock-server-lib} in the distribution,
 * {@code target/mock-server-lib} in the operator's tests); Netty, Jackson and the Fabric8 model are
 * shared with the caller. Callers talk to it over HTTP only, with the same JDK HTTP client the
 * operator uses.
 */
public final class LocalApiServer implements AutoCloseable {
  private static final String[] ISOLATED = {
    "io.vertx.", "io.fabric8.mockwebserver.", "io.fabric8.kubernetes.client.server.mock."
  };

  /** Request logging of the mock server (java.util.logging) at INFO is far too chatty. */
  private static final java.util.logging.Logger QUIET =
      java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

  static {
    QUIET.setLevel(java.util.logging.Level.WARNING);
  }

  private final URLClassLoader loader;
  private final Object server;
  private final String url;

  /** Starts a CRUD mock server that knows the given custom resource types. */
  @SafeVarargs
  public LocalApiServer(Class<? extends HasMetadata>... customResources) {
    loader = new ChildFirst(jars(), LocalApiServer.class.getClassLoader());
    try {
      List<CustomResourceDefinitionContext> crds = new ArrayList<>();
      for (Class<? extends HasMetadata> type : customResources) {
        crds.add(crd(type));
      }
      Object dispatcher =
          loader
              .loadClass("io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher")
              .getConstructor(List.class)
              .newInstance(crds);
      Object context =
          loader.loadClass("io.fabric8.mockwebserver.Context").getConstructor().newInstance();
      Object web =
          loader.loadClass("io.fabric8.mockwebserver.MockWebServer").getConstructor().newInstance();
      Class<?> serverClass =
          loader.loadClass("io.fabric8.kubernetes.client.server.mock.KubernetesMockServer");
      Constructor<?> ctor = null;
      for (Constructor<?> c : serverClass.getConstructors()) {
        if (c.getParameterCount() == 5) {
          ctor = c;
        }
      }
      server = ctor.newInstance(context, web, new HashMap<>(), dispatcher, false);
      serverClass.getMethod("init").invoke(server);
      String host = (String) serverClass.getMethod("getHostName").invoke(server);
      int port = (Integer) serverClass.getMethod("getPort").invoke(server);
      url = "http://" + host + ":" + port;
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot start the mock API server", e);
    }
  }

  /** A client of this server (JDK HTTP client, namespace "test", no proxy, no auth). */
  public KubernetesClient newClient() {
    return new KubernetesClientBuilder()
        .withConfig(
            new ConfigBuilder()
                .withMasterUrl(url)
                .withTrustCerts(true)
                .withNamespace("test")
                .withHttp2Disable(true)
                .withNoProxy("*")
                .build())
        .build();
  }

  public String url() {
    return url;
  }

  private static CustomResourceDefinitionContext crd(Class<? extends HasMetadata> type) {
    return new CustomResourceDefinitionContext.Builder()
        .withGroup(HasMetadata.getGroup(type))
        .withVersion(HasMetadata.getVersion(type))
        .withKind(HasMetadata.getKind(type))
        .withPlural(HasMetadata.getPlural(type))
        .withScope(Namespaced.class.isAssignableFrom(type) ? "Namespaced" : "Cluster")
        .withStatusSubresource(true)
        .build();
  }

  private static URL[] jars() {
    String dir = System.getProperty("mycnet.mockserver.lib");
    if (dir == null) {
      throw new IllegalStateException(
          "system property mycnet.mockserver.lib is not set (the ./mycnet launcher sets it to"
              + " dist/mock-server-lib, the operator and cli poms to the directory their build"
              + " fills at generate-test-resources)");
    }
    try (Stream<Path> files = Files.list(Path.of(dir))) {
      List<URL> urls = new ArrayList<>();
      for (Path p : files.filter(f -> f.toString().endsWith(".jar")).sorted().toList()) {
        urls.add(p.toUri().toURL());
      }
      if (urls.isEmpty()) {
        throw new IllegalStateException("no jars in " + dir);
      }
      return urls.toArray(URL[]::new);
    } catch (MalformedURLException e) {
      throw new IllegalStateException(e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
  }

  @Override
  public void close() {
    try {
      // The loader stays open: Vert.x finishes closing asynchronously and still loads classes.
      server.getClass().getMethod("destroy").invoke(server);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("cannot stop the mock API server", e);
    }
  }

  /** Loads the isolated packages from its own jars first, everything else from the parent. */
  private static final class ChildFirst extends URLClassLoader {

    ChildFirst(URL[] urls, ClassLoader parent) {
      super(urls, parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (!isolated(name)) {
        return super.loadClass(name, resolve);
      }
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        if (c == null) {
          try {
            c = findClass(name);
          } catch (ClassNotFoundException e) {
            c = super.loadClass(name, false);
          }
        }
        if (resolve) {
          resolveClass(c);
        }
        return c;
      }
    }

    @Override
    public URL getResource(String name) {
      if (isolated(name.replace('/', '.'))) {
        URL u = findResource(name);
        if (u != null) {
          return u;
        }
      }
      return super.getResource(name);
    }

    @Override
    public java.util.Enumeration<URL> getResources(String name) throws IOException {
      if (name.startsWith("META-INF/services/io.vertx")) {
        return findResources(name);
      }
      return super.getResources(name);
    }

    private static boolean isolated(String name) {
      for (String p : ISOLATED) {
        if (name.startsWith(p)) {
          return true;
        }
      }
      return false;
    }
  }
}

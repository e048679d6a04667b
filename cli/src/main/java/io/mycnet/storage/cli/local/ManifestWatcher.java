package io.mycnet.storage.cli.local;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.StorageClaim;
import io.mycnet.storage.crds.v1alpha1.StoragePool;
import io.mycnet.storage.crds.v1alpha1.TrustPolicy;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the Kubernetes API in step with a directory of manifests, the way a GitOps tool keeps a
 * cluster in step with a repository: every {@code *.yaml} / {@code *.yml} file (one or more
 * documents) is applied in file-name order; a changed file is applied again and what it no longer
 * holds is deleted; a deleted file's resources are deleted. A file that cannot be used (not YAML, a
 * document without kind or name, a kind local mode does not serve, a field of the wrong type, a
 * refusal from the API) is reported with the file and the reason, and nothing of it is applied:
 * what the previous version of the file put in place stays.
 *
 * <p>Kinds: {@code Namespace} and the four custom resources of {@code storage.mycnet.io}.
 *
 * <p>With an applied record ({@code appliedRecord}), what each file put in place (its digest and
 * every object as applied) is also written to that file, durably (written to a temporary file,
 * forced to disk, renamed over the record, directory forced) after every pass that changed
 * something, and read back when the watcher is created. The first pass after a restart then knows
 * what the previous run applied, although the API behind it may have come back empty: a file
 * recorded but gone now has its objects deleted (and is logged as removed while stopped), a file
 * that lost documents has those deleted, every present file is applied again whatever its digest,
 * and a file that cannot be used now has its recorded objects put back in place.
 */
public final class ManifestWatcher implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ManifestWatcher.class);

  static final Map<String, Class<? extends HasMetadata>> KINDS =
      Map.of(
          "v1/Namespace",
          Namespace.class,
          StoragePool.GROUP + "/" + StoragePool.VERSION + "/StoragePool",
          StoragePool.class,
          StoragePool.GROUP + "/" + StoragePool.VERSION + "/TrustPolicy",
          TrustPolicy.class,
          StoragePool.GROUP + "/" + StoragePool.VERSION + "/ServiceNamespace",
          ServiceNamespace.class,
          StoragePool.GROUP + "/" + StoragePool.VERSION + "/StorageClaim",
          StorageClaim.class);

  /** What one file last did: applied resources, or the error that kept its previous state. */
  public record FileState(String digest, List<HasMetadata> applied, String error) {}

  private final KubernetesClient client;
  private final KubernetesSerialization serialization;
  private final Path dir;
  private final Path statusFile;
  private final Path appliedRecord;
  private final Map<Path, FileState> files = new TreeMap<>();

  /** Files restored from the applied record and not yet applied to the API by this run. */
  private final java.util.Set<Path> unverified = new java.util.TreeSet<>();

  private ScheduledExecutorService timer;

  /**
   * @param statusFile where each file's outcome is written after every pass (null: nowhere)
   */
  public ManifestWatcher(KubernetesClient client, Path dir, Path statusFile) {
    this(client, dir, statusFile, null);
  }

  /**
   * @param statusFile where each file's outcome is written after every pass (null: nowhere)
   * @param appliedRecord where what was applied is kept across restarts (null: in memory only)
   */
  public ManifestWatcher(KubernetesClient client, Path dir, Path statusFile, Path appliedRecord) {
    this.client = client;
    this.serialization = client.getKubernetesSerialization();
    this.dir = dir;
    this.statusFile = statusFile;
    this.appliedRecord = appliedRecord;
    loadRecord();
  }

  /** Applies the directory now, then checks it for changes every {@code everyMillis}. */
  public ManifestWatcher start(long everyMillis) {
    sync();
    timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "manifest-watcher");
              t.setDaemon(true);
              return t;
            });
    timer.scheduleWithFixedDelay(
        this::syncQuietly, everyMillis, everyMillis, TimeUnit.MILLISECONDS);
    return this;
  }

  private void syncQuietly() {
    try {
      sync();
    } catch (RuntimeException e) {
      LOG.warn("manifest pass failed: {}", e.toString());
    }
  }

  /** One pass over the directory; returns every file's state afterwards. */
  public synchronized Map<Path, FileState> sync() {
    Map<Path, String> present = new TreeMap<>();
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.sorted().toList()) {
        String name = p.getFileName().toString();
        if (Files.isRegularFile(p) && (name.endsWith(".yaml") || name.endsWith(".yml"))) {
          present.put(p, "");
        }
      }
    } catch (IOException e) {
      LOG.warn("cannot list {}: {}", dir, e.toString());
      return Map.copyOf(files);
    }
    boolean changed = false;
    // Deleted files: their resources go, newest file first.
    for (Path gone : new ArrayList<>(files.keySet())) {
      if (!present.containsKey(gone)) {
        FileState old = files.remove(gone);
        deleteAll(old.applied());
        LOG.info(
            "{} removed{}: deleted {} resources",
            gone.getFileName(),
            unverified.remove(gone) ? " while local mode was stopped" : "",
            old.applied().size());
        changed = true;
      }
    }
    for (Path p : present.keySet()) {
      byte[] bytes;
      try {
        bytes = Files.readAllBytes(p);
      } catch (IOException e) {
        continue; // being replaced; the next pass sees it
      }
      String digest = digest(bytes);
      FileState old = files.get(p);
      boolean restored = unverified.remove(p);
      if (old != null && old.digest().equals(digest) && !restored) {
        continue;
      }
      changed = true;
      List<HasMetadata> previous = old == null ? List.of() : old.applied();
      try {
        List<HasMetadata> wanted = parse(bytes);
        for (HasMetadata r : wanted) {
          apply(serialization.clone(r));
        }
        List<HasMetadata> dropped = new ArrayList<>();
        for (HasMetadata prev : previous) {
          if (wanted.stream().noneMatch(w -> sameObject(w, prev))) {
            dropped.add(prev);
          }
        }
        deleteAll(dropped);
        files.put(p, new FileState(digest, wanted, null));
        LOG.info(
            "applied {}: {} resources{}",
            p.getFileName(),
            wanted.size(),
            dropped.isEmpty() ? "" : ", deleted " + dropped.size());
      } catch (BadManifest e) {
        files.put(p, new FileState(digest, previous, e.getMessage()));
        LOG.error("{}: {} (nothing of it applied; its previous state is kept)", p, e.getMessage());
        if (restored) {
          reapply(p, previous);
        }
      }
    }
    if (changed) {
      writeRecord();
      writeStatus();
    }
    return Map.copyOf(files);
  }

  /** Puts back what a file applied before this run, when the file cannot be used now. */
  private void reapply(Path p, List<HasMetadata> previous) {
    for (HasMetadata r : previous) {
      try {
        apply(serialization.clone(r));
      } catch (BadManifest e) {
        LOG.error("{}: cannot put its previous state back: {}", p, e.getMessage());
      }
    }
  }

  // ------------------------------------------------------------------ the applied record

  /** Reads the applied record, if any; an unreadable one is reported and ignored. */
  private void loadRecord() {
    if (appliedRecord == null || !Files.isRegularFile(appliedRecord)) {
      return;
    }
    try {
      Map<?, ?> root =
          serialization.unmarshal(
              new ByteArrayInputStream(Files.readAllBytes(appliedRecord)), Map.class);
      Object list = root.get("files");
      if (!(list instanceof List<?> entries)) {
        throw new IllegalArgumentException("no files list");
      }
      Map<Path, FileState> loaded = new TreeMap<>();
      for (Object o : entries) {
        Map<?, ?> e = (Map<?, ?>) o;
        String name = (String) e.get("file");
        String digest = (String) e.get("digest");
        if (name == null || name.contains("/") || digest == null) {
          throw new IllegalArgumentException("an entry without file or digest");
        }
        List<HasMetadata> objects = new ArrayList<>();
        for (Object d : (List<?>) e.get("objects")) {
          Map<?, ?> m = (Map<?, ?>) d;
          Class<? extends HasMetadata> type = KINDS.get(m.get("apiVersion") + "/" + m.get("kind"));
          if (type == null) {
            throw new IllegalArgumentException(
                "unknown kind " + m.get("apiVersion") + "/" + m.get("kind"));
          }
          objects.add(serialization.convertValue(m, type));
        }
        loaded.put(dir.resolve(name), new FileState(digest, objects, null));
      }
      files.putAll(loaded);
      unverified.addAll(loaded.keySet());
      LOG.info(
          "applied record {}: {} files applied by an earlier run", appliedRecord, loaded.size());
    } catch (IOException | RuntimeException e) {
      LOG.error(
          "cannot read the applied record {} ({}): removals made while stopped are not seen",
          appliedRecord,
          e.toString());
    }
  }

  /** Writes the applied record durably: temporary file, fsync, atomic rename, directory fsync. */
  private void writeRecord() {
    if (appliedRecord == null) {
      return;
    }
    List<Map<String, Object>> entries = new ArrayList<>();
    for (Map.Entry<Path, FileState> e : files.entrySet()) {
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("file", e.getKey().getFileName().toString());
      entry.put("digest", e.getValue().digest());
      List<Object> objects = new ArrayList<>();
      for (HasMetadata r : e.getValue().applied()) {
        objects.add(serialization.convertValue(r, Map.class));
      }
      entry.put("objects", objects);
      entries.add(entry);
    }
    byte[] bytes =
        serialization
            .asJson(Map.of("version", 1, "files", entries))
            .getBytes(StandardCharsets.UTF_8);
    Path tmp = appliedRecord.resolveSibling(appliedRecord.getFileName() + ".tmp");
    try {
      try (java.nio.channels.FileChannel ch =
          java.nio.channels.FileChannel.open(
              tmp,
              java.nio.file.StandardOpenOption.CREATE,
              java.nio.file.StandardOpenOption.TRUNCATE_EXISTING,
              java.nio.file.StandardOpenOption.WRITE)) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
          ch.write(b);
        }
        ch.force(true);
      }
      Files.move(
          tmp,
          appliedRecord,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
      try (java.nio.channels.FileChannel d =
          java.nio.channels.FileChannel.open(
              appliedRecord.toAbsolutePath().getParent(), java.nio.file.StandardOpenOption.READ)) {
        d.force(true);
      }
    } catch (IOException e) {
      LOG.error("cannot write the applied record {}: {}", appliedRecord, e.toString());
    }
  }

  /** A manifest that cannot be applied; the message says where and why. */
  static final class BadManifest extends Exception {
    private static final long serialVersionUID = 1L;

    BadManifest(String message) {
      super(message);
    }
  }

  /** Every document of a file, typed and checked, before anything is applied. */
  List<HasMetadata> parse(byte[] bytes) throws BadManifest {
    String text = new String(bytes, StandardCharsets.UTF_8);
    List<Object> docs;
    try {
      docs = new ArrayList<>();
      for (String doc : text.split("(?m)^---\\s*$")) {
        if (doc.lines().allMatch(l -> l.isBlank() || l.strip().startsWith("#"))) {
          continue;
        }
        docs.add(
            serialization.unmarshal(
                new ByteArrayInputStream(doc.getBytes(StandardCharsets.UTF_8)), Map.class));
      }
    } catch (RuntimeException e) {
      throw new BadManifest("not valid YAML: " + firstLine(e));
    }
    List<HasMetadata> out = new ArrayList<>();
    for (int i = 0; i < docs.size(); i++) {
      String where = "document " + (i + 1);
      if (!(docs.get(i) instanceof Map<?, ?> m)) {
        throw new BadManifest(where + ": not a mapping");
      }
      Object apiVersion = m.get("apiVersion");
      Object kind = m.get("kind");
      if (apiVersion == null || kind == null) {
        throw new BadManifest(where + ": apiVersion and kind are required");
      }
      Class<? extends HasMetadata> type = KINDS.get(apiVersion + "/" + kind);
      if (type == null) {
        throw new BadManifest(
            where
                + ": "
                + apiVersion
                + "/"
                + kind
                + " is not served in local mode (Namespace and the storage.mycnet.io resources"
                + " are)");
      }
      HasMetadata r;
      try {
        r = serialization.convertValue(m, type);
      } catch (RuntimeException e) {
        throw new BadManifest(where + " (" + kind + "): " + fieldProblem(e));
      }
      if (r.getMetadata() == null || r.getMetadata().getName() == null) {
        throw new BadManifest(where + " (" + kind + "): metadata.name is required");
      }
      boolean namespaced = r instanceof io.fabric8.kubernetes.api.model.Namespaced;
      if (namespaced && r.getMetadata().getNamespace() == null) {
        r.getMetadata().setNamespace("default");
      }
      if (!namespaced && r.getMetadata().getNamespace() != null) {
        throw new BadManifest(
            where
                + " ("
                + kind
                + " "
                + r.getMetadata().getName()
                + "): metadata.namespace must"
                + " not be set, "
                + kind
                + " is cluster-scoped");
      }
      out.add(r);
    }
    return out;
  }

  private void apply(HasMetadata r) throws BadManifest {
    try {
      HasMetadata existing = client.resource(r).get();
      if (existing == null) {
        client.resource(r).create();
        return;
      }
      if (sameContent(existing, r)) {
        return;
      }
      r.getMetadata().setResourceVersion(existing.getMetadata().getResourceVersion());
      r.getMetadata().setFinalizers(existing.getMetadata().getFinalizers());
      copyStatus(existing, r);
      client.resource(r).update();
    } catch (KubernetesClientException e) {
      throw new BadManifest(
          r.getKind() + " " + r.getMetadata().getName() + " refused by the API: " + firstLine(e));
    }
  }

  private boolean sameContent(HasMetadata existing, HasMetadata wanted) {
    Map<?, ?> a = serialization.convertValue(existing, Map.class);
    Map<?, ?> b = serialization.convertValue(wanted, Map.class);
    return Objects.equals(a.get("spec"), b.get("spec"))
        && Objects.equals(
            existing.getMetadata().getLabels() == null
                ? Map.of()
                : existing.getMetadata().getLabels(),
            wanted.getMetadata().getLabels() == null ? Map.of() : wanted.getMetadata().getLabels());
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  private static void copyStatus(HasMetadata from, HasMetadata to) {
    if (from instanceof io.fabric8.kubernetes.client.CustomResource f
        && to instanceof io.fabric8.kubernetes.client.CustomResource t) {
      t.setStatus(f.getStatus());
    }
  }

  private void deleteAll(List<HasMetadata> resources) {
    for (int i = resources.size() - 1; i >= 0; i--) {
      HasMetadata r = resources.get(i);
      try {
        client.resource(r).delete();
      } catch (KubernetesClientException e) {
        LOG.warn("cannot delete {} {}: {}", r.getKind(), r.getMetadata().getName(), firstLine(e));
      }
    }
  }

  private static boolean sameObject(HasMetadata a, HasMetadata b) {
    return a.getKind().equals(b.getKind())
        && a.getMetadata().getName().equals(b.getMetadata().getName())
        && Objects.equals(a.getMetadata().getNamespace(), b.getMetadata().getNamespace());
  }

  private void writeStatus() {
    if (statusFile == null) {
      return;
    }
    StringBuilder b = new StringBuilder();
    for (Map.Entry<Path, FileState> e : files.entrySet()) {
      FileState s = e.getValue();
      b.append(e.getKey().getFileName())
          .append('\t')
          .append(s.error() == null ? "ok" : "error")
          .append('\t')
          .append(
              s.error() == null
                  ? s.applied().size() + " resources"
                  : s.error().replace('\n', ' ').replace('\t', ' '))
          .append('\n');
    }
    try {
      Path tmp = statusFile.resolveSibling(statusFile.getFileName() + ".tmp");
      Files.writeString(tmp, b);
      Files.move(
          tmp,
          statusFile,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING,
          java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      LOG.warn("cannot write {}: {}", statusFile, e.toString());
    }
  }

  /** Reads a status file written by a watcher: file name to {ok|error, detail}. */
  public static Map<String, String[]> readStatus(Path statusFile) {
    Map<String, String[]> out = new LinkedHashMap<>();
    try {
      for (String line : Files.readAllLines(statusFile)) {
        String[] f = line.split("\t", 3);
        if (f.length == 3) {
          out.put(f[0], new String[] {f[1], f[2]});
        }
      }
    } catch (IOException e) {
      // not written yet
    }
    return out;
  }

  /** A mapping failure as "spec.replication.replicas: what is wrong", naming the field. */
  static String fieldProblem(Exception e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof com.fasterxml.jackson.databind.JsonMappingException m
          && !m.getPath().isEmpty()) {
        StringBuilder path = new StringBuilder();
        for (com.fasterxml.jackson.databind.JsonMappingException.Reference r : m.getPath()) {
          if (r.getFieldName() != null) {
            path.append(path.length() == 0 ? "" : ".").append(r.getFieldName());
          } else {
            path.append('[').append(r.getIndex()).append(']');
          }
        }
        return path + ": " + m.getOriginalMessage().lines().findFirst().orElse("");
      }
    }
    return firstLine(e);
  }

  private static String firstLine(Exception e) {
    String m = e.getMessage() == null ? e.toString() : e.getMessage();
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }

  private static String digest(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}

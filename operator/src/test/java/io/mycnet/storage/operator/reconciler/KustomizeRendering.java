package io.mycnet.storage.operator.reconciler;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What {@code kubectl kustomize DIR} prints, for the subset of kustomize the manifests use: {@code
 * resources} (files of one or more documents, or directories holding a kustomization), {@code
 * components} (kind {@code Component}: its resources, then its patches on everything accumulated)
 * and {@code patches} given as JSON 6902 operations {@code add} / {@code replace} / {@code remove}
 * with a target by group, version, kind and name; the output in kustomize's default ("legacy")
 * order. Any other kustomization field ({@code namespace}, {@code commonLabels}, generators, ...)
 * fails the rendering naming it, so a manifest change that needs more semantics cannot pass
 * unnoticed.
 */
final class KustomizeRendering {
  static final ObjectMapper YAML =
      new ObjectMapper(
              new YAMLFactory()
                  .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                  .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                  .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
                  .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR))
          .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS);

  private static final Set<String> KUSTOMIZATION_FIELDS =
      Set.of("apiVersion", "kind", "resources", "components", "patches");

  /** Kustomize's legacy order: these kinds first, in this order; then all others; then LAST. */
  private static final List<String> FIRST =
      List.of(
          "Namespace",
          "ResourceQuota",
          "StorageClass",
          "CustomResourceDefinition",
          "ServiceAccount",
          "PodSecurityPolicy",
          "Role",
          "ClusterRole",
          "RoleBinding",
          "ClusterRoleBinding",
          "ConfigMap",
          "Secret",
          "Endpoints",
          "Service",
          "LimitRange",
          "PriorityClass",
          "PersistentVolume",
          "PersistentVolumeClaim",
          "Deployment",
          "StatefulSet",
          "CronJob",
          "PodDisruptionBudget");

  private static final List<String> LAST =
      List.of("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration");

  private KustomizeRendering() {}

  /** The objects {@code dir}'s kustomization renders, in kustomize's output order. */
  static List<Map<String, Object>> render(Path dir) {
    List<Map<String, Object>> out = accumulate(dir, "Kustomization");
    List<Map<String, Object>> sorted = new ArrayList<>(out);
    sorted.sort(LEGACY_ORDER);
    return sorted;
  }

  /** {@code base} rendered with {@code component} added, as a kustomization listing both would. */
  static List<Map<String, Object>> render(Path base, Path component) {
    List<Map<String, Object>> out = accumulate(base, "Kustomization");
    applyComponent(component, out);
    out.sort(LEGACY_ORDER);
    return out;
  }

  /** Every document of a YAML stream that is not empty. */
  static List<Map<String, Object>> documents(String yaml) {
    try {
      List<Map<String, Object>> docs = new ArrayList<>();
      try (MappingIterator<LinkedHashMap<String, Object>> it =
          YAML.readerFor(new TypeReference<LinkedHashMap<String, Object>>() {}).readValues(yaml)) {
        while (it.hasNext()) {
          Map<String, Object> doc = it.next();
          if (doc != null && !doc.isEmpty()) {
            docs.add(doc);
          }
        }
      }
      return docs;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The objects as one YAML stream, documents separated by {@code ---}. */
  static String toYaml(List<Map<String, Object>> objects) {
    StringBuilder sb = new StringBuilder();
    for (Map<String, Object> o : objects) {
      if (sb.length() > 0) {
        sb.append("---\n");
      }
      try {
        sb.append(YAML.writeValueAsString(o));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return sb.toString();
  }

  private static List<Map<String, Object>> accumulate(Path dir, String expectedKind) {
    Map<String, Object> k = kustomization(dir);
    Object kind = k.getOrDefault("kind", "Kustomization");
    if (!expectedKind.equals(kind)) {
      throw new IllegalArgumentException(dir + ": kind " + kind + ", expected " + expectedKind);
    }
    for (String field : k.keySet()) {
      if (!KUSTOMIZATION_FIELDS.contains(field)) {
        throw new IllegalArgumentException(
            dir + ": kustomization field '" + field + "' is not rendered here; extend " + "it");
      }
    }
    List<Map<String, Object>> out = new ArrayList<>();
    for (String r : strings(k, "resources", dir)) {
      Path p = dir.resolve(r).normalize();
      if (Files.isDirectory(p)) {
        out.addAll(accumulate(p, "Kustomization"));
      } else {
        out.addAll(documents(read(p)));
      }
    }
    for (String c : strings(k, "components", dir)) {
      applyComponent(dir.resolve(c).normalize(), out);
    }
    applyPatches(dir, k, out);
    return out;
  }

  private static void applyComponent(Path dir, List<Map<String, Object>> out) {
    Map<String, Object> k = kustomization(dir);
    if (!"Component".equals(k.get("kind"))) {
      throw new IllegalArgumentException(dir + ": a component must be of kind Component");
    }
    for (String field : k.keySet()) {
      if (!KUSTOMIZATION_FIELDS.contains(field) || field.equals("components")) {
        throw new IllegalArgumentException(
            dir + ": component field '" + field + "' is not rendered here; extend it");
      }
    }
    for (String r : strings(k, "resources", dir)) {
      out.addAll(documents(read(dir.resolve(r))));
    }
    applyPatches(dir, k, out);
  }

  @SuppressWarnings("unchecked")
  private static void applyPatches(Path dir, Map<String, Object> k, List<Map<String, Object>> out) {
    Object patches = k.get("patches");
    if (patches == null) {
      return;
    }
    for (Object o : (List<Object>) patches) {
      Map<String, Object> patch = (Map<String, Object>) o;
      Map<String, Object> target = (Map<String, Object>) patch.get("target");
      if (target == null) {
        throw new IllegalArgumentException(dir + ": a patch without target is not rendered here");
      }
      String text =
          patch.containsKey("path")
              ? read(dir.resolve((String) patch.get("path")))
              : (String) patch.get("patch");
      List<Object> ops;
      try {
        ops = YAML.readValue(text, new TypeReference<List<Object>>() {});
      } catch (IOException e) {
        throw new IllegalArgumentException(
            dir + ": a patch must be a list of JSON 6902 operations: " + e.getMessage());
      }
      int matched = 0;
      for (Map<String, Object> obj : out) {
        if (matches(target, obj)) {
          matched++;
          for (Object op : ops) {
            Json6902.apply(obj, (Map<String, Object>) op);
          }
        }
      }
      if (matched == 0) {
        throw new IllegalArgumentException(dir + ": patch target " + target + " matches nothing");
      }
    }
  }

  private static boolean matches(Map<String, Object> target, Map<String, Object> obj) {
    String apiVersion = (String) obj.get("apiVersion");
    String group = apiVersion.contains("/") ? apiVersion.substring(0, apiVersion.indexOf('/')) : "";
    String version = apiVersion.substring(apiVersion.indexOf('/') + 1);
    for (Map.Entry<String, Object> e : target.entrySet()) {
      String want = String.valueOf(e.getValue());
      String have =
          switch (e.getKey()) {
            case "group" -> group;
            case "version" -> version;
            case "kind" -> (String) obj.get("kind");
            case "name" -> name(obj);
            case "namespace" -> namespace(obj);
            default ->
                throw new IllegalArgumentException(
                    "patch target field '" + e.getKey() + "' is not rendered here");
          };
      if (!want.equals(have)) {
        return false;
      }
    }
    return true;
  }

  private static Map<String, Object> kustomization(Path dir) {
    for (String n : List.of("kustomization.yaml", "kustomization.yml", "Kustomization")) {
      Path f = dir.resolve(n);
      if (Files.isRegularFile(f)) {
        List<Map<String, Object>> docs = documents(read(f));
        if (docs.size() != 1) {
          throw new IllegalArgumentException(f + ": expected one document");
        }
        return docs.get(0);
      }
    }
    throw new IllegalArgumentException(dir + " holds no kustomization");
  }

  @SuppressWarnings("unchecked")
  private static List<String> strings(Map<String, Object> k, String field, Path dir) {
    Object v = k.get(field);
    if (v == null) {
      return List.of();
    }
    if (!(v instanceof List<?> l) || !l.stream().allMatch(String.class::isInstance)) {
      throw new IllegalArgumentException(dir + ": " + field + " must be a list of paths");
    }
    return (List<String>) v;
  }

  private static String read(Path f) {
    try {
      return Files.readString(f);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @SuppressWarnings("unchecked")
  static String name(Map<String, Object> obj) {
    return (String) ((Map<String, Object>) obj.get("metadata")).get("name");
  }

  @SuppressWarnings("unchecked")
  static String namespace(Map<String, Object> obj) {
    Object ns = ((Map<String, Object>) obj.get("metadata")).get("namespace");
    return ns == null ? "" : (String) ns;
  }

  /** Kind rank, then group/version/kind ("~G" for the core group sorts last), namespace, name. */
  private static final Comparator<Map<String, Object>> LEGACY_ORDER =
      Comparator.<Map<String, Object>>comparingInt(o -> rank((String) o.get("kind")))
          .thenComparing(KustomizeRendering::gvk)
          .thenComparing(KustomizeRendering::namespace)
          .thenComparing(KustomizeRendering::name);

  private static int rank(String kind) {
    int first = FIRST.indexOf(kind);
    if (first >= 0) {
      return first;
    }
    int last = LAST.indexOf(kind);
    return last >= 0 ? FIRST.size() + 1 + last : FIRST.size();
  }

  private static String gvk(Map<String, Object> o) {
    String apiVersion = (String) o.get("apiVersion");
    int slash = apiVersion.indexOf('/');
    String group = slash < 0 ? "~G" : apiVersion.substring(0, slash);
    return group + "_" + apiVersion.substring(slash + 1) + "_" + o.get("kind");
  }

  /** JSON 6902 operations on a parsed object; paths are JSON pointers. */
  static final class Json6902 {
    private Json6902() {}

    @SuppressWarnings("unchecked")
    static void apply(Map<String, Object> root, Map<String, Object> op) {
      String kind = String.valueOf(op.get("op"));
      String path = String.valueOf(op.get("path"));
      if (!path.startsWith("/")) {
        throw new IllegalArgumentException("JSON pointer must start with /: " + path);
      }
      String[] tokens = path.substring(1).split("/", -1);
      Object parent = root;
      for (int i = 0; i < tokens.length - 1; i++) {
        parent = child(parent, unescape(tokens[i]), path);
      }
      String last = unescape(tokens[tokens.length - 1]);
      switch (kind) {
        case "add" -> {
          if (parent instanceof List<?> l) {
            List<Object> list = (List<Object>) l;
            list.add(
                last.equals("-") ? list.size() : index(last, list.size(), path), op.get("value"));
          } else {
            ((Map<String, Object>) parent).put(last, op.get("value"));
          }
        }
        case "replace" -> {
          if (parent instanceof List<?> l) {
            ((List<Object>) l).set(index(last, l.size() - 1, path), op.get("value"));
          } else if (((Map<String, Object>) parent).containsKey(last)) {
            ((Map<String, Object>) parent).put(last, op.get("value"));
          } else {
            throw new IllegalArgumentException("replace: nothing at " + path);
          }
        }
        case "remove" -> {
          if (parent instanceof List<?> l) {
            l.remove(index(last, l.size() - 1, path));
          } else if (((Map<String, Object>) parent).remove(last) == null) {
            throw new IllegalArgumentException("remove: nothing at " + path);
          }
        }
        default ->
            throw new IllegalArgumentException("JSON 6902 op '" + kind + "' is not rendered here");
      }
    }

    @SuppressWarnings("unchecked")
    private static Object child(Object parent, String token, String path) {
      Object c;
      if (parent instanceof List<?> l) {
        c = l.get(index(token, l.size() - 1, path));
      } else if (parent instanceof Map<?, ?> m) {
        c = ((Map<String, Object>) m).get(token);
      } else {
        c = null;
      }
      if (c == null) {
        throw new IllegalArgumentException("nothing at " + token + " of " + path);
      }
      return c;
    }

    private static int index(String token, int max, String path) {
      int i;
      try {
        i = Integer.parseInt(token);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("not a list index: " + token + " in " + path);
      }
      if (i < 0 || i > max) {
        throw new IllegalArgumentException("index " + i + " out of range in " + path);
      }
      return i;
    }

    private static String unescape(String token) {
      return token.replace("~1", "/").replace("~0", "~");
    }
  }
}

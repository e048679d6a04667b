package io.mycnet.storage.crds;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Compares the CRD YAML the generator wrote in this build with the YAML committed under {@code
 * config/crd/}, file by file, and names every difference.
 */
final class CrdDrift {
  static final String REGENERATE =
      "regenerate and commit: mvn -pl crds -Pupdate-crds process-classes && git add config/crd";

  private CrdDrift() {}

  /** The differences, one line each; empty when the committed YAML is up to date. */
  static List<String> between(Path generatedDir, Path committedDir) throws IOException {
    TreeSet<String> generated = crdFiles(generatedDir);
    TreeSet<String> committed = crdFiles(committedDir);
    List<String> drift = new ArrayList<>();
    if (generated.isEmpty()) {
      drift.add("the generator wrote no CRD into " + generatedDir);
    }
    for (String name : generated) {
      if (!committed.contains(name)) {
        drift.add(name + " is generated but not committed under " + committedDir);
      } else if (!Files.readString(generatedDir.resolve(name))
          .equals(Files.readString(committedDir.resolve(name)))) {
        drift.add(name + " differs from what the custom resource classes generate");
      }
    }
    for (String name : committed) {
      if (!generated.contains(name)) {
        drift.add(name + " is committed but no custom resource class generates it any more");
      }
    }
    return drift;
  }

  private static TreeSet<String> crdFiles(Path dir) throws IOException {
    TreeSet<String> names = new TreeSet<>();
    if (!Files.isDirectory(dir)) {
      return names;
    }
    try (Stream<Path> files = Files.list(dir)) {
      files
          .map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith("-v1.yml"))
          .forEach(names::add);
    }
    return names;
  }
}

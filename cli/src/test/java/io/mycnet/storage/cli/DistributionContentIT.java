package io.mycnet.storage.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The {@code mycnet} distribution the build leaves in {@code target/dist} (the jars the {@code
 * ./mycnet} launcher puts on its classpath, and the mock API server's own class path) holds no test
 * library: no JUnit, no opentest4j, no test-support. Runs after {@code package}, on the directory
 * itself.
 */
class DistributionContentIT {
  static final Path DIST =
      Path.of(System.getProperty("mycnet.dist", "target/dist")).toAbsolutePath().normalize();

  /** Jar name prefixes that belong to tests only. */
  static final List<String> TEST_ONLY = List.of("junit", "opentest4j", "test-support");

  @Test
  void distributionHoldsNoTestLibrary() throws IOException {
    List<String> lib = jars(DIST.resolve("lib"));
    assertThat(lib)
        .as("the launcher's jar and local mode's runtime are in " + DIST.resolve("lib"))
        .contains("mycnet-cli.jar")
        .anyMatch(j -> j.startsWith("local-runtime-"));
    assertThat(testOnly(lib)).as("test libraries in " + DIST.resolve("lib")).isEmpty();

    List<String> mockServerLib = jars(DIST.resolve("mock-server-lib"));
    assertThat(mockServerLib).anyMatch(j -> j.startsWith("kubernetes-server-mock-"));
    assertThat(testOnly(mockServerLib))
        .as("test libraries in " + DIST.resolve("mock-server-lib"))
        .isEmpty();
  }

  static List<String> testOnly(List<String> jars) {
    return jars.stream()
        .filter(j -> TEST_ONLY.stream().anyMatch(j.toLowerCase(Locale.ROOT)::startsWith))
        .toList();
  }

  private static List<String> jars(Path dir) throws IOException {
    assertThat(dir).as("built by package").isDirectory();
    try (Stream<Path> files = Files.list(dir)) {
      return files
          .map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".jar"))
          .sorted()
          .toList();
    }
  }
}

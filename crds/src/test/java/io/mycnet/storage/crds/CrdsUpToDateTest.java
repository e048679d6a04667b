package io.mycnet.storage.crds;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The build fails when the CRD YAML committed under {@code config/crd/} is not what the custom
 * resource classes generate (the generator runs at {@code process-classes}, before this test).
 */
class CrdsUpToDateTest {

  private static Path dir(String property) {
    String value = System.getProperty(property);
    assertThat(value).as("system property %s (set by the crds pom)", property).isNotBlank();
    return Path.of(value);
  }

  @Test
  void committedCrdsMatchTheGeneratedOnes() throws Exception {
    List<String> drift = CrdDrift.between(dir("crd.generated.dir"), dir("crd.committed.dir"));
    assertThat(drift).as("config/crd/ is stale (%s)", CrdDrift.REGENERATE).isEmpty();
  }

  @Test
  void driftIsDetectedWhenAClassChangedWithoutRegenerating(@TempDir Path tmp) throws Exception {
    Path generated = Files.createDirectories(tmp.resolve("generated"));
    Path committed = Files.createDirectories(tmp.resolve("committed"));
    Files.writeString(generated.resolve("pools.example-v1.yml"), "spec: {newField: 1}\n");
    Files.writeString(committed.resolve("pools.example-v1.yml"), "spec: {}\n");
    Files.writeString(generated.resolve("claims.example-v1.yml"), "spec: {}\n");
    Files.writeString(committed.resolve("gone.example-v1.yml"), "spec: {}\n");

    assertThat(CrdDrift.between(generated, committed))
        .containsExactly(
            "claims.example-v1.yml is generated but not committed under " + committed,
            "pools.example-v1.yml differs from what the custom resource classes generate",
            "gone.example-v1.yml is committed but no custom resource class generates it any more");
  }

  @Test
  void identicalDirectoriesHaveNoDrift(@TempDir Path tmp) throws Exception {
    Path a = Files.createDirectories(tmp.resolve("a"));
    Path b = Files.createDirectories(tmp.resolve("b"));
    Files.writeString(a.resolve("x-v1.yml"), "same\n");
    Files.writeString(b.resolve("x-v1.yml"), "same\n");
    assertThat(CrdDrift.between(a, b)).isEmpty();
  }
}

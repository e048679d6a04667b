package io.mycnet.storage.cli;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The CLI's package graph, pinned: the commands ({@code cli}) and the demo ({@code cli.demo}) use
 * local mode's supervision ({@code cli.local}), never the reverse. The one exception today is
 * {@link CliException}, which local mode throws for the commands to print.
 */
@AnalyzeClasses(
    packages = "io.mycnet.storage.cli",
    importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
  private static final String CLI = "io.mycnet.storage.cli";

  @ArchTest
  static final ArchRule localModeUsesNoCommand =
      layeredArchitecture()
          .consideringOnlyDependenciesInLayers()
          .layer("commands")
          .definedBy(CLI)
          .layer("demo")
          .definedBy(CLI + ".demo..")
          .layer("local")
          .definedBy(CLI + ".local..")
          .whereLayer("commands")
          .mayOnlyBeAccessedByLayers("demo")
          .whereLayer("demo")
          .mayOnlyBeAccessedByLayers("commands")
          .whereLayer("local")
          .mayOnlyBeAccessedByLayers("commands", "demo")
          // Known today: local mode throws the commands' CliException. Remove when it moves.
          .ignoreDependency(
              DescribedPredicate.describe(
                  "a class in " + CLI + ".local",
                  (JavaClass c) -> c.getPackageName().startsWith(CLI + ".local")),
              DescribedPredicate.describe(
                  CLI + ".CliException",
                  (JavaClass c) -> c.getName().equals(CLI + ".CliException")))
          .because(
              "local mode supervises processes and knows nothing of the commands or the demo that"
                  + " drive it, so it can be started by tests and by the demo alike");
}

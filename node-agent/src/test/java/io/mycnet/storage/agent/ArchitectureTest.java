package io.mycnet.storage.agent;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import com.tngtech.archunit.library.dependencies.SliceRule;
import java.util.List;

/**
 * The node agent's package graph, pinned: support < nbd < identity < replica < replication < data <
 * frontend < session < command < the agent itself, and no cycle between its packages. The upward
 * imports the code has today are listed one by one in {@link #KNOWN_UPWARD}; any other one fails
 * the build.
 */
@AnalyzeClasses(
    packages = "io.mycnet.storage.agent",
    importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
  private static final String A = "io.mycnet.storage.agent";

  /**
   * Upward dependencies that exist today, each one origin class and one target class (with their
   * nested classes). Remove a line when its dependency is gone; never add one to make a change
   * pass.
   */
  static final List<String> KNOWN_UPWARD =
      List.of(
          // identity -> data: the certificate's common name is read with CallerIdentity.commonName.
          A + ".identity.IdentityKeys -> " + A + ".data.CallerIdentity",
          // identity -> data: client certificates are told apart by CallerIdentity.CLIENT_PREFIX.
          A + ".identity.Revocations -> " + A + ".data.CallerIdentity",
          // replica -> replication: the replica store opens and holds the ReplicatedVolumes.
          A + ".replica.ReplicaStore -> " + A + ".replication.ReplicatedVolume",
          // replica -> replication: a scrub pass skips the blocks a rebuild is still copying.
          A + ".replica.Scrubber -> " + A + ".replication.ReplicatedVolume",
          // replication -> data: the peer channels' message limit is DataServer.MAX_MESSAGE_BYTES.
          A + ".replication.PeerChannels -> " + A + ".data.DataServer",
          // replication -> agent: the peer channels' keepalive is NodeAgent.KEEPALIVE_TIME.
          A + ".replication.PeerChannels -> " + A + ".NodeAgent",
          // session -> agent: the join, the session and the renewal read the agent's settings.
          A + ".session.AgentSession -> " + A + ".AgentConfig",
          A + ".session.CertificateRenewal -> " + A + ".AgentConfig",
          A + ".session.NodeJoin -> " + A + ".AgentConfig");

  private static final String[] LAYERS = {
    "support",
    "nbd",
    "identity",
    "replica",
    "replication",
    "data",
    "frontend",
    "session",
    "command",
    "csi",
    "agent"
  };

  @ArchTest
  static final ArchRule noPackageImportsALayerAboveIt =
      layers()
          .because(
              "the agent is layered support < nbd < identity < replica < replication < data <"
                  + " frontend < session < command < csi < agent: the replica format and the replication protocol can be"
                  + " understood and tested without the session and the command loop above them");

  @ArchTest
  static final ArchRule noCyclesBetweenAgentPackages =
      ignoring(slices().matching(A + ".(*)..").should().beFreeOfCycles(), KNOWN_UPWARD)
          .because("a cycle between two agent packages makes them one package in two folders");

  private static LayeredArchitecture layers() {
    LayeredArchitecture arch = layeredArchitecture().consideringOnlyDependenciesInLayers();
    for (String layer : LAYERS) {
      arch = arch.layer(layer).definedBy(layer.equals("agent") ? A : A + "." + layer + "..");
    }
    for (int i = 0; i < LAYERS.length; i++) {
      String[] above = java.util.Arrays.copyOfRange(LAYERS, i + 1, LAYERS.length);
      arch =
          above.length == 0
              ? arch.whereLayer(LAYERS[i]).mayNotBeAccessedByAnyLayer()
              : arch.whereLayer(LAYERS[i]).mayOnlyBeAccessedByLayers(above);
    }
    for (String edge : KNOWN_UPWARD) {
      String[] ends = edge.split(" -> ");
      arch = arch.ignoreDependency(classOrNested(ends[0]), classOrNested(ends[1]));
    }
    return arch;
  }

  private static SliceRule ignoring(SliceRule rule, List<String> edges) {
    SliceRule r = rule;
    for (String edge : edges) {
      String[] ends = edge.split(" -> ");
      r = r.ignoreDependency(classOrNested(ends[0]), classOrNested(ends[1]));
    }
    return r;
  }

  private static DescribedPredicate<JavaClass> classOrNested(String name) {
    return DescribedPredicate.describe(
        name, c -> c.getName().equals(name) || c.getName().startsWith(name + "$"));
  }
}

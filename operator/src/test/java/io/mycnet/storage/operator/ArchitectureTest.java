package io.mycnet.storage.operator;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import com.tngtech.archunit.library.Architectures.LayeredArchitecture;
import java.util.List;

/**
 * The operator's package graph, pinned: the pure core imports no I/O library, no package imports a
 * layer above its own, and reconcilers reach etcd only through the allocation code. The few upward
 * imports the code has today are listed one by one in {@link #KNOWN_UPWARD}; any other one fails
 * the build.
 */
@AnalyzeClasses(
    packages = "io.mycnet.storage.operator",
    importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {
  private static final String OP = "io.mycnet.storage.operator";

  /**
   * Upward dependencies that exist today, each one origin class and one target class (with their
   * nested classes). Remove a line when its dependency is gone; never add one to make a change
   * pass.
   */
  static final List<String> KNOWN_UPWARD =
      List.of(
          // allocation -> replication: a new replica's volume state is computed by
          // ReplicationManager.volumeState(Allocation).
          OP + ".allocation.ReplicaCreation -> " + OP + ".replication.ReplicationManager",
          // pool -> reconciler: a bad label selector is reported as the reconciler's
          // InvalidFieldException.
          OP + ".pool.LabelSelectors -> " + OP + ".reconciler.InvalidFieldException",
          // pool -> reconciler.storagepool: the default rebuild limits are the mapper's constants.
          OP + ".pool.PoolDirectoryRules -> " + OP + ".reconciler.storagepool.StoragePoolMapper");

  /** Reconciler classes that touch the store today. Remove a line when its dependency is gone. */
  static final List<String> KNOWN_RECONCILER_STORE =
      List.of(
          OP + ".reconciler.node.NodeActionWatcher -> " + OP + ".store.StoreUnavailableException",
          OP
              + ".reconciler.storageclaim.StorageClaimReconciler -> "
              + OP
              + ".store.StoreUnavailableException",
          OP + ".reconciler.storagepool.StoragePoolMapper -> " + OP + ".store.EtcdKeys",
          // TrustAwareStorageManager.watch hands out the store's watch as its handle.
          OP + ".reconciler.AllocationEvents -> " + OP + ".store.StoreWatch",
          // An unreachable store is reported as StoreUnavailable on the resource's status.
          OP + ".reconciler.ReconcileFailures -> " + OP + ".store.StoreUnavailableException");

  private static final String[] ABOVE_CORE = {
    "store",
    "election",
    "nodes",
    "allocation",
    "attachment",
    "replication",
    "pool",
    "security",
    "nodeapi",
    "reconciler",
    "csi",
    "runtime",
    "main"
  };

  @ArchTest
  static final ArchRule coreImportsNoIo =
      noClasses()
          .that()
          .resideInAnyPackage(OP + ".trust..", OP + ".placement..", OP + ".model..")
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(
              "io.etcd..",
              "io.grpc..",
              "io.fabric8..",
              "io.javaoperatorsdk..",
              "java.net..",
              "java.nio.file..",
              "io.netty..",
              "com.google.protobuf..")
          .because(
              "trust scoring and placement are pure functions of their inputs: property tests run"
                  + " them without etcd, gRPC, Kubernetes or files, and a decision never waits on"
                  + " I/O");

  @ArchTest
  static final ArchRule noPackageImportsALayerAboveIt =
      ignoring(
              layeredArchitecture()
                  .consideringOnlyDependenciesInLayers()
                  .layer("model")
                  .definedBy(OP + ".model..")
                  .layer("trust")
                  .definedBy(OP + ".trust..")
                  .layer("placement")
                  .definedBy(OP + ".placement..")
                  .layer("wire")
                  .definedBy(OP + ".wire..")
                  .layer("store")
                  .definedBy(OP + ".store..")
                  .layer("election")
                  .definedBy(OP + ".election..")
                  .layer("nodes")
                  .definedBy(OP + ".nodes..")
                  .layer("allocation")
                  .definedBy(OP + ".allocation..")
                  .layer("attachment")
                  .definedBy(OP + ".attachment..")
                  .layer("replication")
                  .definedBy(OP + ".replication..")
                  .layer("pool")
                  .definedBy(OP + ".pool..")
                  .layer("security")
                  .definedBy(OP + ".security..")
                  .layer("nodeapi")
                  .definedBy(OP + ".nodeapi..")
                  .layer("reconciler")
                  .definedBy(OP + ".reconciler..")
                  .layer("csi")
                  .definedBy(OP + ".csi..")
                  .layer("runtime")
                  .definedBy(OP + ".runtime..")
                  .layer("main")
                  .definedBy(OP)
                  .whereLayer("main")
                  .mayNotBeAccessedByAnyLayer()
                  .whereLayer("runtime")
                  .mayOnlyBeAccessedByLayers("main")
                  .whereLayer("csi")
                  .mayOnlyBeAccessedByLayers("runtime", "main")
                  .whereLayer("reconciler")
                  .mayOnlyBeAccessedByLayers("csi", "runtime", "main")
                  .whereLayer("nodeapi")
                  .mayOnlyBeAccessedByLayers("reconciler", "csi", "runtime", "main")
                  .whereLayer("security")
                  .mayOnlyBeAccessedByLayers("nodeapi", "reconciler", "csi", "runtime", "main")
                  .whereLayer("pool")
                  .mayOnlyBeAccessedByLayers(
                      "security", "nodeapi", "reconciler", "csi", "runtime", "main")
                  .whereLayer("replication")
                  .mayOnlyBeAccessedByLayers(
                      "pool", "security", "nodeapi", "reconciler", "csi", "runtime", "main")
                  .whereLayer("attachment")
                  .mayOnlyBeAccessedByLayers(
                      "replication",
                      "pool",
                      "security",
                      "nodeapi",
                      "reconciler",
                      "csi",
                      "runtime",
                      "main")
                  .whereLayer("allocation")
                  .mayOnlyBeAccessedByLayers(
                      "attachment",
                      "replication",
                      "pool",
                      "security",
                      "nodeapi",
                      "reconciler",
                      "csi",
                      "runtime",
                      "main")
                  .whereLayer("election")
                  .mayOnlyBeAccessedByLayers(
                      "allocation",
                      "attachment",
                      "replication",
                      "pool",
                      "security",
                      "nodeapi",
                      "reconciler",
                      "csi",
                      "runtime",
                      "main")
                  .whereLayer("nodes")
                  .mayOnlyBeAccessedByLayers(
                      "allocation",
                      "attachment",
                      "replication",
                      "pool",
                      "security",
                      "nodeapi",
                      "reconciler",
                      "csi",
                      "runtime",
                      "main")
                  .whereLayer("store")
                  .mayOnlyBeAccessedByLayers(
                      "election",
                      "nodes",
                      "allocation",
                      "attachment",
                      "replication",
                      "pool",
                      "security",
                      "nodeapi",
                      "reconciler",
                      "csi",
                      "runtime",
                      "main")
                  .whereLayer("trust")
                  .mayOnlyBeAccessedByLayers(ABOVE_CORE)
                  .whereLayer("placement")
                  .mayOnlyBeAccessedByLayers(ABOVE_CORE)
                  .whereLayer("wire")
                  .mayOnlyBeAccessedByLayers(ABOVE_CORE),
              KNOWN_UPWARD)
          .because(
              "the packages are layered model < trust, placement, wire < store < election, nodes"
                  + " < allocation < attachment < replication < pool < security < nodeapi < reconciler < csi <"
                  + " runtime < OperatorMain: a lower layer can be understood and tested without"
                  + " the ones above it");

  @ArchTest
  static final ArchRule reconcilersDoNotReachEtcd =
      classes()
          .that()
          .resideInAPackage(OP + ".reconciler..")
          .should(
              notDependOn(
                  DescribedPredicate.describe(
                      "io.etcd.. or " + OP + ".store..",
                      c ->
                          c.getPackageName().startsWith("io.etcd")
                              || c.getPackageName().startsWith(OP + ".store")),
                  KNOWN_RECONCILER_STORE))
          .because(
              "reconcilers turn Kubernetes resources into calls of the allocation, pool and trust"
                  + " code; every etcd read and transaction belongs to those layers, where it is"
                  + " guarded and fenced");

  private static LayeredArchitecture ignoring(LayeredArchitecture rule, List<String> edges) {
    LayeredArchitecture r = rule;
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

  private static String outer(JavaClass c) {
    String n = c.getName();
    int i = n.indexOf('$');
    return i < 0 ? n : n.substring(0, i);
  }

  private static ArchCondition<JavaClass> notDependOn(
      DescribedPredicate<JavaClass> target, List<String> known) {
    return new ArchCondition<>("not depend on " + target.getDescription()) {
      @Override
      public void check(JavaClass c, ConditionEvents events) {
        for (Dependency d : c.getDirectDependenciesFromSelf()) {
          JavaClass t = d.getTargetClass().getBaseComponentType();
          if (target.test(t) && !known.contains(outer(c) + " -> " + outer(t))) {
            events.add(SimpleConditionEvent.violated(d, d.getDescription()));
          }
        }
      }
    };
  }
}

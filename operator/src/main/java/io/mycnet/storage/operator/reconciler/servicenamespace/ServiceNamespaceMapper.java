package io.mycnet.storage.operator.reconciler.servicenamespace;

import io.mycnet.storage.api.v1.AccessGrant;
import io.mycnet.storage.api.v1.NamespaceRecord;
import io.mycnet.storage.crds.v1alpha1.ClassificationName;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespace;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespaceSpec;
import io.mycnet.storage.crds.v1alpha1.ShareMode;
import io.mycnet.storage.crds.v1alpha1.StorageTypeName;
import io.mycnet.storage.operator.model.Classification;
import io.mycnet.storage.operator.model.StorageType;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import io.mycnet.storage.operator.reconciler.Quantities;
import io.mycnet.storage.operator.wire.ProtoMapping;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * {@code ServiceNamespace} to its {@link NamespaceRecord}, checking what the schema cannot: the
 * quota quantity, duplicates, references, and that a namespace does not share with itself.
 *
 * <p>Each share becomes one {@link AccessGrant} per ServiceNamespace it names: the claim (a
 * StorageClaim name in this Kubernetes namespace), the grantee's store id and read-only unless the
 * mode is ReadWrite. A claim that does not exist (yet) is accepted: the grant applies to its volume
 * once the claim is bound to this namespace, and to nothing before; a claim of another service
 * namespace is never opened by it (its volume belongs to another owner).
 */
public final class ServiceNamespaceMapper {
  private static final Pattern NAME = Pattern.compile(ServiceNamespaceSpec.NAME_PATTERN);
  private static final Pattern REF = Pattern.compile(ServiceNamespaceSpec.REF_PATTERN);

  private ServiceNamespaceMapper() {}

  /** The id of a service namespace in etcd: {@code <namespace>.<name>}. */
  public static String storeId(String namespace, String name) {
    return namespace + "." + name;
  }

  public static String storeId(ServiceNamespace sn) {
    return storeId(sn.getMetadata().getNamespace(), sn.getMetadata().getName());
  }

  /**
   * @throws InvalidFieldException naming the first invalid field
   */
  public static NamespaceRecord toRecord(ServiceNamespace sn) {
    ServiceNamespaceSpec spec = sn.getSpec() == null ? new ServiceNamespaceSpec() : sn.getSpec();
    String id = storeId(sn);
    NamespaceRecord.Builder r = NamespaceRecord.newBuilder().setNamespace(id);
    if (spec.getQuota() != null) {
      if (spec.getQuota().getBytes() != null) {
        r.setQuotaBytes(Quantities.bytes("spec.quota.bytes", spec.getQuota().getBytes()));
      }
      if (spec.getQuota().getVolumes() != null) {
        if (spec.getQuota().getVolumes() < 0) {
          throw new InvalidFieldException(
              "spec.quota.volumes", "must be >= 0, was " + spec.getQuota().getVolumes());
        }
        r.setQuotaVolumes(spec.getQuota().getVolumes());
      }
    }
    if (spec.getAllowedClassifications() != null) {
      Set<ClassificationName> seen = new HashSet<>();
      for (int i = 0; i < spec.getAllowedClassifications().size(); i++) {
        ClassificationName c = spec.getAllowedClassifications().get(i);
        if (c == null || !seen.add(c)) {
          throw new InvalidFieldException(
              "spec.allowedClassifications[" + i + "]",
              c == null ? "must be set" : c + " appears twice");
        }
        r.addAllowedClassifications(ProtoMapping.toProto(Classification.valueOf(c.name())));
      }
    }
    if (spec.getAllowedStorageTypes() != null) {
      Set<StorageTypeName> seen = new HashSet<>();
      for (int i = 0; i < spec.getAllowedStorageTypes().size(); i++) {
        StorageTypeName t = spec.getAllowedStorageTypes().get(i);
        if (t == null || !seen.add(t)) {
          throw new InvalidFieldException(
              "spec.allowedStorageTypes[" + i + "]",
              t == null ? "must be set" : t + " appears twice");
        }
        r.addAllowedStorageTypes(ProtoMapping.toProto(StorageType.valueOf(t.name())));
      }
    }
    if (spec.getPools() != null) {
      Set<String> seen = new HashSet<>();
      for (int i = 0; i < spec.getPools().size(); i++) {
        String p = spec.getPools().get(i);
        name("spec.pools[" + i + "]", p);
        if (!seen.add(p)) {
          throw new InvalidFieldException("spec.pools[" + i + "]", "pool " + p + " appears twice");
        }
        r.addPools(p);
      }
    }
    if (spec.getAccess() != null) {
      refs("spec.access.serviceAccounts", spec.getAccess().getServiceAccounts());
      List<String> ids = spec.getAccess().getClientIdentities();
      if (ids != null) {
        for (int i = 0; i < ids.size(); i++) {
          String v = ids.get(i);
          if (v == null || v.isBlank() || v.length() > 512) {
            throw new InvalidFieldException(
                "spec.access.clientIdentities[" + i + "]", "must be 1 to 512 characters");
          }
        }
      }
    }
    if (spec.getSharing() != null) {
      Set<String> claims = new HashSet<>();
      String home = sn.getMetadata().getNamespace();
      for (int i = 0; i < spec.getSharing().size(); i++) {
        ServiceNamespaceSpec.Share s = spec.getSharing().get(i);
        String f = "spec.sharing[" + i + "]";
        if (s == null) {
          throw new InvalidFieldException(f, "must be set");
        }
        if (s.getClaim() == null || s.getClaim().isBlank()) {
          throw new InvalidFieldException(
              f + ".claim", "must name the StorageClaim of this namespace that is shared");
        }
        name(f + ".claim", s.getClaim());
        if (!claims.add(s.getClaim())) {
          throw new InvalidFieldException(
              f + ".claim", "claim " + s.getClaim() + " is listed twice; merge the entries");
        }
        if (s.getWith() == null || s.getWith().isEmpty()) {
          throw new InvalidFieldException(f + ".with", "must name at least one ServiceNamespace");
        }
        refs(f + ".with", s.getWith());
        Set<String> grantees = new HashSet<>();
        for (int j = 0; j < s.getWith().size(); j++) {
          String w = s.getWith().get(j);
          String grantee = granteeId(home, w);
          if (grantee.equals(id)) {
            throw new InvalidFieldException(
                f + ".with[" + j + "]", "a service namespace cannot share with itself");
          }
          if (!grantees.add(grantee)) {
            throw new InvalidFieldException(
                f + ".with[" + j + "]", w + " names a ServiceNamespace already listed");
          }
          r.addShares(
              AccessGrant.newBuilder()
                  .setClaim(s.getClaim())
                  .setNamespace(grantee)
                  .setReadOnly(s.getMode() != ShareMode.ReadWrite));
        }
      }
    }
    return r.build();
  }

  /**
   * The store id of a ServiceNamespace named in {@code with}: {@code name} is in {@code home}, the
   * sharing namespace's Kubernetes namespace; {@code namespace/name} anywhere.
   */
  static String granteeId(String home, String ref) {
    int slash = ref.indexOf('/');
    return slash < 0
        ? storeId(home, ref)
        : storeId(ref.substring(0, slash), ref.substring(slash + 1));
  }

  private static void name(String field, String v) {
    if (v == null || !NAME.matcher(v).matches()) {
      throw new InvalidFieldException(field, "'" + v + "' is not a valid Kubernetes name");
    }
  }

  private static void refs(String field, List<String> values) {
    if (values == null) {
      return;
    }
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < values.size(); i++) {
      String v = values.get(i);
      if (v == null || !REF.matcher(v).matches()) {
        throw new InvalidFieldException(
            field + "[" + i + "]", "'" + v + "' is not a name or namespace/name");
      }
      if (!seen.add(v)) {
        throw new InvalidFieldException(field + "[" + i + "]", v + " appears twice");
      }
    }
  }
}

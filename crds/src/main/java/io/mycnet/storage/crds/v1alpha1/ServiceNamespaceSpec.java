package io.mycnet.storage.crds.v1alpha1;

import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.Quantity;
import java.util.List;

/** The intent of a {@link ServiceNamespace}. */
public class ServiceNamespaceSpec {
  /** A Kubernetes object name (DNS-1123 subdomain, at most 63 characters here). */
  public static final String NAME_PATTERN = "^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$";

  /** {@code name} or {@code namespace/name}. */
  public static final String REF_PATTERN =
      "^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$";

  @JsonPropertyDescription("Limits on what the namespace's claims may reserve. Unset: no limit.")
  private Quota quota;

  @JsonPropertyDescription("Classifications its claims may use. Unset or empty: all.")
  @Size(max = 4)
  private List<ClassificationName> allowedClassifications;

  @JsonPropertyDescription("Storage types its claims may use. Unset or empty: all.")
  @Size(max = 5)
  private List<StorageTypeName> allowedStorageTypes;

  @JsonPropertyDescription(
      "StoragePools its claims may place volumes in; the first is the default for claims that"
          + " name none. Unset or empty: any pool.")
  @Size(max = 32)
  private List<@Pattern(NAME_PATTERN) String> pools;

  @JsonPropertyDescription("Who may access the namespace's volumes.")
  private Access access;

  @JsonPropertyDescription(
      "Claims this namespace shares with other service namespaces, per claim, read-only or"
          + " read-write.")
  @Size(max = 256)
  private List<Share> sharing;

  @JsonPropertyDescription(
      "What happens to the volumes when this ServiceNamespace is deleted: Retain keeps them"
          + " allocated, Delete releases all of them. Default: Retain.")
  private DeletionPolicy deletionPolicy;

  public Quota getQuota() {
    return quota;
  }

  public void setQuota(Quota quota) {
    this.quota = quota;
  }

  public List<ClassificationName> getAllowedClassifications() {
    return allowedClassifications;
  }

  public void setAllowedClassifications(List<ClassificationName> allowedClassifications) {
    this.allowedClassifications = allowedClassifications;
  }

  public List<StorageTypeName> getAllowedStorageTypes() {
    return allowedStorageTypes;
  }

  public void setAllowedStorageTypes(List<StorageTypeName> allowedStorageTypes) {
    this.allowedStorageTypes = allowedStorageTypes;
  }

  public List<String> getPools() {
    return pools;
  }

  public void setPools(List<String> pools) {
    this.pools = pools;
  }

  public Access getAccess() {
    return access;
  }

  public void setAccess(Access access) {
    this.access = access;
  }

  public List<Share> getSharing() {
    return sharing;
  }

  public void setSharing(List<Share> sharing) {
    this.sharing = sharing;
  }

  public DeletionPolicy getDeletionPolicy() {
    return deletionPolicy;
  }

  public void setDeletionPolicy(DeletionPolicy deletionPolicy) {
    this.deletionPolicy = deletionPolicy;
  }

  /** Quota of a service namespace. */
  public static class Quota {
    @JsonPropertyDescription("Most bytes the namespace's volumes may reserve (e.g. 500Gi).")
    private Quantity bytes;

    @JsonPropertyDescription("Most volumes the namespace may hold.")
    @Min(0)
    private Integer volumes;

    public Quantity getBytes() {
      return bytes;
    }

    public void setBytes(Quantity bytes) {
      this.bytes = bytes;
    }

    public Integer getVolumes() {
      return volumes;
    }

    public void setVolumes(Integer volumes) {
      this.volumes = volumes;
    }
  }

  /** Identities allowed to use the namespace's volumes. */
  public static class Access {
    @JsonPropertyDescription(
        "Kubernetes service accounts, as name (this namespace) or namespace/name.")
    @Size(max = 256)
    private List<@Pattern(REF_PATTERN) String> serviceAccounts;

    @JsonPropertyDescription(
        "Client identities (certificate subjects or SPIFFE IDs) outside Kubernetes.")
    @Size(max = 256)
    private List<@Size(min = 1, max = 512) String> clientIdentities;

    public List<String> getServiceAccounts() {
      return serviceAccounts;
    }

    public void setServiceAccounts(List<String> serviceAccounts) {
      this.serviceAccounts = serviceAccounts;
    }

    public List<String> getClientIdentities() {
      return clientIdentities;
    }

    public void setClientIdentities(List<String> clientIdentities) {
      this.clientIdentities = clientIdentities;
    }
  }

  /** One claim shared with other service namespaces. */
  public static class Share {
    @Required
    @JsonPropertyDescription("The StorageClaim (in this service namespace) that is shared.")
    @Pattern(NAME_PATTERN)
    private String claim;

    @Required
    @JsonPropertyDescription("ServiceNamespaces it is shared with: name or namespace/name.")
    @Size(min = 1, max = 64)
    private List<@Pattern(REF_PATTERN) String> with;

    @JsonPropertyDescription("ReadOnly or ReadWrite. Default: ReadOnly.")
    private ShareMode mode;

    public String getClaim() {
      return claim;
    }

    public void setClaim(String claim) {
      this.claim = claim;
    }

    public List<String> getWith() {
      return with;
    }

    public void setWith(List<String> with) {
      this.with = with;
    }

    public ShareMode getMode() {
      return mode;
    }

    public void setMode(ShareMode mode) {
      this.mode = mode;
    }
  }
}

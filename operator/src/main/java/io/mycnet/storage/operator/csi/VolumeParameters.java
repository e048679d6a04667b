package io.mycnet.storage.operator.csi;

import io.mycnet.storage.crds.v1alpha1.ClassificationName;
import io.mycnet.storage.crds.v1alpha1.ConsistencyLevelName;
import io.mycnet.storage.crds.v1alpha1.ReplicationStrategyName;
import io.mycnet.storage.crds.v1alpha1.ServiceNamespaceSpec;
import io.mycnet.storage.crds.v1alpha1.StorageTypeName;
import io.mycnet.storage.csi.CsiNames;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A StorageClass's parameters as CreateVolume (and GetCapacity) receives them, checked: only {@link
 * CsiNames#PARAMETERS}, each value of its type. A value that is absent is null (the storage type's
 * or the pool's default applies), except the storage type, which defaults to SERVICE.
 *
 * @param serviceNamespace the {@code serviceNamespace} parameter as given ({@code name} or {@code
 *     namespace/name}), or null
 * @param pvcNamespace the PVC's Kubernetes namespace (the external-provisioner's extra metadata),
 *     or null
 */
public record VolumeParameters(
    ClassificationName classification,
    Integer replicas,
    ConsistencyLevelName consistency,
    ReplicationStrategyName strategy,
    StorageTypeName storageType,
    String pool,
    String serviceNamespace,
    String pvcNamespace) {

  private static final Pattern NAME = Pattern.compile(ServiceNamespaceSpec.NAME_PATTERN);
  private static final Pattern REF = Pattern.compile(ServiceNamespaceSpec.REF_PATTERN);
  private static final Pattern K8S_NAMESPACE =
      Pattern.compile("^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");

  /**
   * Parses {@code parameters}.
   *
   * @throws io.grpc.StatusRuntimeException INVALID_ARGUMENT naming the parameter
   */
  public static VolumeParameters parse(Map<String, String> parameters) {
    for (String k : parameters.keySet()) {
      if (!CsiNames.PARAMETERS.contains(k)) {
        throw CsiErrors.invalid(
            "unknown StorageClass parameter '"
                + k
                + "'; accepted: "
                + String.join(", ", new TreeSet<>(CsiNames.PARAMETERS)));
      }
    }
    ClassificationName c =
        enumOf(
            ClassificationName.class,
            CsiNames.PARAM_CLASSIFICATION,
            parameters.get(CsiNames.PARAM_CLASSIFICATION));
    Integer replicas = null;
    String r = parameters.get(CsiNames.PARAM_REPLICAS);
    if (r != null) {
      try {
        replicas = Integer.parseInt(r.strip());
      } catch (NumberFormatException e) {
        replicas = -1;
      }
      if (replicas < 1 || replicas > 7) {
        throw CsiErrors.invalid(
            "StorageClass parameter '"
                + CsiNames.PARAM_REPLICAS
                + "' must be a whole number from 1 to 7, was '"
                + r
                + "'");
      }
    }
    ConsistencyLevelName consistency =
        enumOf(
            ConsistencyLevelName.class,
            CsiNames.PARAM_CONSISTENCY,
            parameters.get(CsiNames.PARAM_CONSISTENCY));
    ReplicationStrategyName strategy =
        enumOf(
            ReplicationStrategyName.class,
            CsiNames.PARAM_STRATEGY,
            parameters.get(CsiNames.PARAM_STRATEGY));
    StorageTypeName type =
        enumOf(
            StorageTypeName.class,
            CsiNames.PARAM_STORAGE_TYPE,
            parameters.get(CsiNames.PARAM_STORAGE_TYPE));
    String pool = blankToNull(parameters.get(CsiNames.PARAM_POOL));
    if (pool != null && !NAME.matcher(pool).matches()) {
      throw CsiErrors.invalid(
          "StorageClass parameter '"
              + CsiNames.PARAM_POOL
              + "' must be a StoragePool name (lower-case letters, digits, '-', '.'), was '"
              + pool
              + "'");
    }
    String sn = blankToNull(parameters.get(CsiNames.PARAM_SERVICE_NAMESPACE));
    if (sn != null && !REF.matcher(sn).matches()) {
      throw CsiErrors.invalid(
          "StorageClass parameter '"
              + CsiNames.PARAM_SERVICE_NAMESPACE
              + "' must be a ServiceNamespace name or <kubernetes namespace>/<name>, was '"
              + sn
              + "'");
    }
    String pvcNs = blankToNull(parameters.get(CsiNames.PARAM_PVC_NAMESPACE));
    if (pvcNs != null && !K8S_NAMESPACE.matcher(pvcNs).matches()) {
      throw CsiErrors.invalid(
          "parameter '"
              + CsiNames.PARAM_PVC_NAMESPACE
              + "' must be a Kubernetes namespace name, was '"
              + pvcNs
              + "'");
    }
    return new VolumeParameters(
        c,
        replicas,
        consistency,
        strategy,
        type == null ? StorageTypeName.SERVICE : type,
        pool,
        sn,
        pvcNs);
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s.strip();
  }

  private static <E extends Enum<E>> E enumOf(Class<E> type, String parameter, String value) {
    if (value == null) {
      return null;
    }
    try {
      return Enum.valueOf(type, value.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw CsiErrors.invalid(
          "StorageClass parameter '"
              + parameter
              + "' must be one of "
              + Arrays.stream(type.getEnumConstants())
                  .map(Enum::name)
                  .collect(Collectors.joining(", "))
              + ", was '"
              + value
              + "'");
    }
  }
}

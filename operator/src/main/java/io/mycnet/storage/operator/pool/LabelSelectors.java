package io.mycnet.storage.operator.pool;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.mycnet.storage.operator.reconciler.InvalidFieldException;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Kubernetes label selectors over a node's registered labels: {@code matchLabels} and {@code
 * matchExpressions} with {@code In}, {@code NotIn}, {@code Exists} and {@code DoesNotExist}, all of
 * which must hold. Checked once ({@link #validate}) so that matching cannot fail.
 */
public final class LabelSelectors {
  private static final Pattern KEY =
      Pattern.compile(
          "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
              + "[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$");
  private static final Pattern VALUE =
      Pattern.compile("^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$");

  private LabelSelectors() {}

  public static void validate(String field, LabelSelector s) {
    if (s == null) {
      return;
    }
    if (s.getMatchLabels() != null) {
      for (Map.Entry<String, String> e : s.getMatchLabels().entrySet()) {
        key(field + ".matchLabels", e.getKey());
        if (e.getValue() == null || !VALUE.matcher(e.getValue()).matches()) {
          throw new InvalidFieldException(
              field + ".matchLabels." + e.getKey(),
              "'" + e.getValue() + "' is not a valid label value");
        }
      }
    }
    List<LabelSelectorRequirement> exprs = s.getMatchExpressions();
    if (exprs == null) {
      return;
    }
    for (int i = 0; i < exprs.size(); i++) {
      LabelSelectorRequirement r = exprs.get(i);
      String f = field + ".matchExpressions[" + i + "]";
      key(f + ".key", r.getKey());
      List<String> values = r.getValues() == null ? List.of() : r.getValues();
      String op = r.getOperator();
      if ("In".equals(op) || "NotIn".equals(op)) {
        if (values.isEmpty()) {
          throw new InvalidFieldException(f + ".values", "must not be empty for operator " + op);
        }
      } else if ("Exists".equals(op) || "DoesNotExist".equals(op)) {
        if (!values.isEmpty()) {
          throw new InvalidFieldException(f + ".values", "must be empty for operator " + op);
        }
      } else {
        throw new InvalidFieldException(
            f + ".operator", "'" + op + "' is not one of In, NotIn, Exists, DoesNotExist");
      }
    }
  }

  private static void key(String field, String key) {
    if (key == null || !KEY.matcher(key).matches()) {
      throw new InvalidFieldException(field, "'" + key + "' is not a valid label key");
    }
  }

  static boolean matches(LabelSelector s, Map<String, String> labels) {
    if (s == null) {
      return true;
    }
    if (s.getMatchLabels() != null) {
      for (Map.Entry<String, String> e : s.getMatchLabels().entrySet()) {
        if (!e.getValue().equals(labels.get(e.getKey()))) {
          return false;
        }
      }
    }
    if (s.getMatchExpressions() != null) {
      for (LabelSelectorRequirement r : s.getMatchExpressions()) {
        String v = labels.get(r.getKey());
        List<String> values = r.getValues() == null ? List.of() : r.getValues();
        boolean ok =
            switch (r.getOperator()) {
              case "In" -> v != null && values.contains(v);
              case "NotIn" -> v == null || !values.contains(v);
              case "Exists" -> v != null;
              case "DoesNotExist" -> v == null;
              default -> false;
            };
        if (!ok) {
          return false;
        }
      }
    }
    return true;
  }
}

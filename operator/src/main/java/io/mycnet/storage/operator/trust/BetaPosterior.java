package io.mycnet.storage.operator.trust;

/**
 * The arithmetic of one factor's evidence. A factor keeps decayed success and failure weights (α,
 * β), both starting at 0; decisions read the posterior Beta(α + 1, β + 1), i.e. the evidence on top
 * of a uniform Beta(1, 1) prior. The uniform prior is the least informative proper prior: it makes
 * the bound defined with no evidence at all, and there it gives mean 0.5 and a lower bound of about
 * 0.03, so a factor without evidence earns (almost) nothing.
 *
 * <p>The lower confidence bound is the normal approximation to the Beta quantile, {@code mean - z *
 * sd}, clamped to [0, 1]. It costs one square root (a node's eight factors are evaluated in well
 * under a microsecond) and, unlike the exact quantile, needs no iteration. Where the bound is above
 * 0 it strictly increases when a failure is replaced by a success (the derivative with respect to
 * the mean is at least 1/2 there), so more successes never lower it.
 */
final class BetaPosterior {
  private BetaPosterior() {}

  /** Posterior mean under the uniform prior. */
  static double mean(double alpha, double beta) {
    return (alpha + 1) / (alpha + beta + 2);
  }

  /** Lower confidence bound {@code max(0, mean - z * sd)} of Beta(α + 1, β + 1). */
  static double lowerBound(double alpha, double beta, double z) {
    double n = alpha + beta + 2;
    double m = (alpha + 1) / n;
    double lcb = m - z * Math.sqrt(m * (1 - m) / (n + 1));
    return lcb <= 0 ? 0 : Math.min(lcb, 1);
  }

  /**
   * The standard normal quantile for a one-sided confidence level p in [0.5, 1), by Acklam's
   * rational approximation (relative error below 1.2e-9).
   */
  static double zForConfidence(double p) {
    if (p == 0.5) {
      return 0;
    }
    final double[] a = {
      -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
      1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00
    };
    final double[] b = {
      -5.447609879822406e+01,
      1.615858368580409e+02,
      -1.556989798598866e+02,
      6.680131188771972e+01,
      -1.328068155288572e+01
    };
    final double[] c = {
      -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
      -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00
    };
    final double[] d = {
      7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00
    };
    double pHigh = 1 - 0.02425;
    if (p <= pHigh) {
      double q = p - 0.5;
      double r = q * q;
      return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
          * q
          / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
        / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
}

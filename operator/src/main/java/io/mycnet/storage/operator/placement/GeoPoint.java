package io.mycnet.storage.operator.placement;

/** Geographic coordinates of a node, in degrees (WGS 84). */
public record GeoPoint(double latitude, double longitude) {
  private static final double EARTH_RADIUS_KM = 6371.0088;

  public GeoPoint {
    if (!(latitude >= -90 && latitude <= 90)) {
      throw new IllegalArgumentException(
          "latitude must be between -90 and 90 degrees, got " + latitude);
    }
    if (!(longitude >= -180 && longitude <= 180)) {
      throw new IllegalArgumentException(
          "longitude must be between -180 and 180 degrees, got " + longitude);
    }
  }

  /**
   * Great-circle distance to {@code other} in kilometres (haversine; StrictMath, so every JVM
   * agrees).
   */
  public double distanceKm(GeoPoint other) {
    double p1 = StrictMath.toRadians(latitude);
    double p2 = StrictMath.toRadians(other.latitude);
    double dp = p2 - p1;
    double dl = StrictMath.toRadians(other.longitude - longitude);
    double a =
        StrictMath.sin(dp / 2) * StrictMath.sin(dp / 2)
            + StrictMath.cos(p1)
                * StrictMath.cos(p2)
                * StrictMath.sin(dl / 2)
                * StrictMath.sin(dl / 2);
    return 2 * EARTH_RADIUS_KM * StrictMath.asin(Math.min(1.0, StrictMath.sqrt(a)));
  }
}

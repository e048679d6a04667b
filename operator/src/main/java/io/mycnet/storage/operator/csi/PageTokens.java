package io.mycnet.storage.operator.csi;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * ListVolumes paging: a token is the last volume id of the previous page (base64url), so a page
 * continues after it in id order even when volumes were created or deleted in between.
 */
public final class PageTokens {
  private static final String PREFIX = "after:";

  private PageTokens() {}

  public static String after(String volumeId) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString((PREFIX + volumeId).getBytes(StandardCharsets.UTF_8));
  }

  /**
   * The volume id a token continues after ("" for an empty token).
   *
   * @throws io.grpc.StatusRuntimeException ABORTED when the token is not one of ours
   */
  public static String parse(String token) {
    if (token == null || token.isEmpty()) {
      return "";
    }
    try {
      String s = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
      if (s.startsWith(PREFIX) && s.length() > PREFIX.length()) {
        return s.substring(PREFIX.length());
      }
    } catch (IllegalArgumentException e) {
      // not base64: refused below
    }
    throw CsiErrors.aborted(
        "starting_token '" + token + "' is not a token this driver gave; list from the start");
  }
}

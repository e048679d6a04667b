package io.mycnet.storage.agent.csi;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What is mounted where, read from {@code /proc/self/mountinfo}. */
final class Mounts {
  private static final Path MOUNTINFO = Path.of("/proc/self/mountinfo");

  private Mounts() {}

  /** One mount: where, its source (a device for block file systems) and its file system type. */
  record Mount(Path mountPoint, String source, String fsType, boolean readOnly) {}

  static List<Mount> all() {
    List<String> lines;
    try {
      lines = Files.readAllLines(MOUNTINFO);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("cannot read " + MOUNTINFO, e);
    }
    List<Mount> out = new ArrayList<>();
    for (String line : lines) {
      String[] f = line.split(" ");
      int sep = -1;
      for (int i = 6; i < f.length; i++) {
        if (f[i].equals("-")) {
          sep = i;
          break;
        }
      }
      if (f.length < 10 || sep < 0 || sep + 2 >= f.length) {
        continue;
      }
      boolean ro = ("," + f[5] + ",").contains(",ro,");
      out.add(new Mount(Path.of(unescape(f[4])), unescape(f[sep + 2]), f[sep + 1], ro));
    }
    return out;
  }

  /** The newest mount on {@code path}, or null when nothing is mounted there. */
  static Mount at(Path path) {
    Path p = path.toAbsolutePath().normalize();
    Mount found = null;
    for (Mount m : all()) {
      if (m.mountPoint().equals(p)) {
        found = m;
      }
    }
    return found;
  }

  static boolean isMountPoint(Path path) {
    return at(path) != null;
  }

  /** mountinfo escapes space, tab, newline and backslash as octal {@code \ooo}. */
  static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 4 <= s.length()) {
        try {
          b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
          i += 3;
          continue;
        } catch (NumberFormatException e) {
          // not an escape
        }
      }
      b.append(c);
    }
    return b.toString();
  }
}

package io.mycnet.storage.cli.local;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The TCP sockets a process listens on, read from {@code /proc}: the socket inodes among its file
 * descriptors, matched against the LISTEN entries of {@code /proc/PID/net/tcp} and {@code tcp6}.
 */
final class ListeningSockets {
  private static final String LISTEN = "0A";

  private ListeningSockets() {}

  static List<InetSocketAddress> of(long pid) throws IOException {
    Set<String> inodes = new HashSet<>();
    try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc/" + pid + "/fd"))) {
      for (Path fd : fds) {
        String target;
        try {
          target = Files.readSymbolicLink(fd).toString();
        } catch (IOException e) {
          continue; // closed meanwhile
        }
        if (target.startsWith("socket:[")) {
          inodes.add(target.substring("socket:[".length(), target.length() - 1));
        }
      }
    }
    List<InetSocketAddress> out = new ArrayList<>();
    for (String table : List.of("tcp", "tcp6")) {
      Path p = Path.of("/proc/" + pid + "/net/" + table);
      if (!Files.exists(p)) {
        continue;
      }
      List<String> lines = Files.readAllLines(p);
      for (String line : lines.subList(1, lines.size())) {
        String[] f = line.trim().split("\\s+");
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
        if (f.length > 9 && f[3].equals(LISTEN) && inodes.contains(f[9])) {
          out.add(address(f[1]));
        }
      }
    }
    return out;
  }

  /** "0100007F:1F90" (address bytes as host-order 32-bit words, hex port) as an address. */
  private static InetSocketAddress address(String hexAddressPort) throws UnknownHostException {
    int colon = hexAddressPort.indexOf(':');
    String hex = hexAddressPort.substring(0, colon);
    int port = Integer.parseInt(hexAddressPort.substring(colon + 1), 16);
    byte[] raw = new byte[hex.length() / 2];
    for (int word = 0; word < raw.length / 4; word++) {
      long w = Long.parseLong(hex.substring(word * 8, word * 8 + 8), 16);
      for (int i = 0; i < 4; i++) {
        raw[word * 4 + i] = (byte) (w >>> (8 * i)); // little-endian words on these machines
      }
    }
    return new InetSocketAddress(InetAddress.getByAddress(raw), port);
  }
}

/**
 * The TCP sockets a process listens on, read from the kernel (Linux /proc), so a test can prove
 * "loopback only" of the running program rather than of the URL it was given: each socket fd of
 * the process (`/proc/<pid>/fd/* -> socket:[inode]`) matched with the LISTEN entries of
 * /proc/<pid>/net/tcp and tcp6 by inode.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { endianness } from 'node:os';

export interface ListeningSocket {
  /** Dotted IPv4 or full-form IPv6 (e.g. `0000:0000:0000:0000:0000:0000:0000:0001`), as bound. */
  address: string;
  port: number;
  family: 4 | 6;
}

/** TCP state 0A in /proc/net/tcp{,6}: LISTEN (include/net/tcp_states.h). */
const TCP_LISTEN = '0A';

export async function listeningSockets(pid: number): Promise<ListeningSocket[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    // An fd may close between readdir and readlink.
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  const sockets: ListeningSocket[] = [];
  for (const family of [4, 6] as const) {
    const table = await readFile(`/proc/${pid}/net/${family === 4 ? 'tcp' : 'tcp6'}`, 'utf8').catch(() => '');
    for (const line of table.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== TCP_LISTEN || !inodes.has(fields[9]!)) continue;
      const [addressHex, portHex] = fields[1]!.split(':') as [string, string];
      sockets.push({ address: decodeAddress(addressHex), port: parseInt(portHex, 16), family });
    }
  }
  return sockets;
}

/** Loopback: 127.0.0.0/8, ::1, or IPv4-mapped 127.x. */
export function isLoopback(socket: ListeningSocket): boolean {
  if (socket.family === 4) return socket.address.startsWith('127.');
  if (socket.address === '0000:0000:0000:0000:0000:0000:0000:0001') return true;
  return (
    socket.address.startsWith('0000:0000:0000:0000:0000:ffff:') &&
    hexToIpv4(socket.address.slice(30).replace(':', '')).startsWith('127.')
  );
}

export function describeSocket(s: ListeningSocket): string {
  return s.family === 4 ? `${s.address}:${s.port}` : `[${s.address}]:${s.port}`;
}

/**
 * The kernel prints the address as 32-bit words in host byte order: one word for IPv4, four for
 * IPv6. On a little-endian host each word's bytes are reversed to get network order.
 */
function decodeAddress(hex: string): string {
  const toNetwork = (word: string) => (endianness() === 'LE' ? word.match(/../g)!.reverse().join('') : word);
  const networkOrder = (hex.match(/.{8}/g) ?? []).map(toNetwork).join('');
  if (networkOrder.length === 8) return hexToIpv4(networkOrder);
  return networkOrder.match(/.{4}/g)!.join(':').toLowerCase();
}

function hexToIpv4(hex: string): string {
  return hex
    .match(/../g)!
    .map((b) => parseInt(b, 16))
    .join('.');
}

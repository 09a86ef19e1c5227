import { endianness } from 'node:os';

/** One LISTEN row of /proc/net/tcp or tcp6. */
export interface ListeningSocketRow {
  /** The bound address as written in a URL host ("127.0.0.1", "0.0.0.0", "::", "::1"). */
  address: string;
  port: number;
  family: 4 | 6;
  inode: number;
  /** The uid that owns the socket. */
  uid: number;
}

/** TCP_LISTEN in the `st` column. */
const LISTEN = '0A';

/**
 * The LISTEN rows of /proc/net/tcp (family 4) or /proc/net/tcp6 (family 6):
 * "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...",
 * where "0100007F:1F90" is 127.0.0.1:8080 on a little-endian machine. Rows
 * without a socket inode (0: a socket being torn down) are left out.
 */
export function parseListeningSockets(text: string, family: 4 | 6): ListeningSocketRow[] {
  const rows: ListeningSocketRow[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== LISTEN) continue;
    const [addressHex, portHex] = fields[1]!.split(':');
    const address = decodeAddress(addressHex ?? '', family);
    const port = parseInt(portHex ?? '', 16);
    const inode = Number(fields[9]);
    if (address === undefined || !Number.isInteger(port) || port <= 0 || !Number.isInteger(inode) || inode === 0) continue;
    rows.push({ address, port, family, inode, uid: Number(fields[7]) });
  }
  return rows;
}

/** The kernel prints each 32-bit word of the address in host byte order. */
function decodeAddress(hex: string, family: 4 | 6): string | undefined {
  if (family === 4) {
    if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
    return wordBytes(hex).join('.');
  }
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return undefined;
  const bytes = [0, 8, 16, 24].flatMap((at) => wordBytes(hex.slice(at, at + 8)));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // URL parsing writes the address in its shortest form ("::", "::1", "::ffff:7f00:1").
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** The four bytes of a 32-bit word written as 8 hex digits in host byte order, in memory order. */
function wordBytes(word: string): number[] {
  const bytes = [0, 2, 4, 6].map((at) => parseInt(word.slice(at, at + 2), 16));
  return endianness() === 'LE' ? bytes.reverse() : bytes;
}

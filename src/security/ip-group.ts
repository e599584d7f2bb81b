import { isIPv4, isIPv6 } from 'node:net';

// Rate limits count per client network, not per address: one IPv6 client usually holds a whole
// /64 (BF-02), so keying on the full address would hand it 2^64 budgets. IPv4-mapped IPv6
// addresses (::ffff:192.0.2.1) are the IPv4 client they carry.

/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function groups(ip: string): number[] | undefined {
  const addr = ip.split('%')[0] as string;
  if (!isIPv6(addr)) return undefined;
  let text = addr;
  // A trailing dotted IPv4 part stands for the last two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s ? s.split(':').map((g) => Number.parseInt(g, 16)) : []);
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  return [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
}

/** The key an address is limited under: IPv4 as is, IPv6 as its first `prefix` bits (`2001:db8:0:1::/64`). */
export function ipGroup(ip: string, prefix: number): string {
  if (isIPv4(ip)) return ip;
  const g = groups(ip);
  if (!g) return ip;
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    const [hi, lo] = [g[6] as number, g[7] as number];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const kept = g.map((v, i) => {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    return bits === 0 ? 0 : v & ((0xffff << (16 - bits)) & 0xffff);
  });
  return `${kept.map((v) => v.toString(16)).join(':')}/${prefix}`;
}

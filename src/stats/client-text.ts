// A client address as text from the 16 address bytes the engines carry (IPv4 in the first 4).

/** RFC 5952 form: lower-case hex, the longest run of two or more zero groups as "::". */
export function addressText(family: number, buf: Uint8Array, offset: number): string {
  if (family !== 6) return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((buf[offset + i]! << 8) | buf[offset + i + 1]!);
  let bestAt = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(':');
  return `${hex.slice(0, bestAt).join(':')}::${hex.slice(bestAt + bestLen).join(':')}`;
}

/**
 * addressText that hands back the same string while the address repeats (the usual case: a few clients
 * send most queries), so the top lists' map lookups find its hash already computed.
 */
export class LastAddressText {
  private readonly last = new Uint8Array(16);
  private lastFamily = 0;
  private text = '';

  of(family: number, buf: Uint8Array, offset: number): string {
    const last = this.last;
    const n = family === 6 ? 16 : 4;
    let same = family === this.lastFamily;
    for (let i = 0; same && i < n; i++) same = last[i] === buf[offset + i];
    if (same) return this.text;
    for (let i = 0; i < n; i++) last[i] = buf[offset + i]!;
    this.lastFamily = family;
    this.text = addressText(family, buf, offset);
    return this.text;
  }
}

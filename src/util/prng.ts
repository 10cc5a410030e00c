// A small, fast, deterministic PRNG (mulberry32) for reproducible corpora, fuzz runs and generated
// zones: the same seed always gives the same sequence. Not for anything that must be unpredictable
// (query IDs and ports use crypto).

export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// The limiter's accounting against bind9's (lib/dns/rrl.c), on responses built as a server sends them,
// with a clock the test moves.
import t from 'tap';
import dnsPacket from 'dns-packet';
import { defaultRateLimit, type RateLimitConfig } from './config.js';
import { BucketTable } from './table.js';
import { RateLimiter, RL_ANSWERED, RL_DROPPED, RL_LOGGED, RL_QUERY_DROPPED, RL_SLIPPED } from './limiter.js';

type Packet = Parameters<typeof dnsPacket.encode>[0];
const SOA = { type: 'SOA', name: 'example.', ttl: 60, data: {
  mname: 'ns.example.', rname: 'h.example.', serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 60 } } as const;

const RCODES = { NOERROR: 0, NXDOMAIN: 3, REFUSED: 5 };

function response(name: string, rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED', opts: { answer?: boolean; opt?: boolean; type?: string } = {}): Buffer {
  const p: Packet = {
    type: 'response', id: 7, flags: dnsPacket.AUTHORITATIVE_ANSWER | RCODES[rcode],
    questions: [{ type: (opts.type ?? 'A') as 'A', name }],
    answers: opts.answer === false || rcode !== 'NOERROR' ? [] : [{ type: 'A', name, ttl: 60, data: '192.0.2.1' }],
    authorities: rcode === 'NXDOMAIN' || opts.answer === false ? [SOA as never] : [],
    additionals: opts.opt ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as never] : [],
  };
  return dnsPacket.encode(p);
}

function limiter(c: Partial<RateLimitConfig>, clock: { now: number }): { rl: RateLimiter; counts: number[] } {
  const counts = [0, 0, 0, 0, 0, 0];
  const rl = new RateLimiter({ ...defaultRateLimit(), ...c }, { rateLimited: (a) => { counts[a]++; } }, null, undefined, () => clock.now);
  return { rl, counts };
}

/** Sends `count` copies of `template` for `client`; [answered, slipped (TC), dropped]. */
function burst(rl: RateLimiter, client: string, template: Buffer, count: number): [number, number, number] {
  const out: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < count; i++) {
    const buf = Buffer.from(template);
    rl.clientFromText(client);
    const n = rl.limitResponse(buf, buf.length);
    if (n === 0) out[2]++;
    else if ((buf[2]! & 0x02) !== 0) out[1]++;
    else out[0]++;
  }
  return out;
}

t.test('1,000 identical answers in one second: rate answered, then slip and drop alternate (bind9 slip 2)', async (t) => {
  const clock = { now: 1000 };
  const { rl, counts } = limiter({ responsesPerSecond: 10 }, clock);
  t.strictSame(burst(rl, '192.0.2.7', response('www.example.', 'NOERROR'), 1000), [10, 495, 495]);
  t.equal(counts[RL_ANSWERED], 10);
  t.equal(counts[RL_SLIPPED], 495);
  t.equal(counts[RL_DROPPED], 495);
});

t.test('slip 1 slips every limited answer, slip 0 none; errors are never slipped', async (t) => {
  const clock = { now: 1000 };
  t.strictSame(burst(limiter({ responsesPerSecond: 5, slip: 1 }, clock).rl, '192.0.2.7', response('a.example.', 'NOERROR'), 100), [5, 95, 0]);
  t.strictSame(burst(limiter({ responsesPerSecond: 5, slip: 0 }, clock).rl, '192.0.2.7', response('a.example.', 'NOERROR'), 100), [5, 0, 95]);
  t.strictSame(burst(limiter({ responsesPerSecond: 5, slip: 1 }, clock).rl, '192.0.2.7', response('a.example.', 'REFUSED'), 100), [5, 0, 95]);
  t.strictSame(burst(limiter({ responsesPerSecond: 5, slip: 3 }, clock).rl, '192.0.2.7', response('a.example.', 'NOERROR'), 35), [5, 10, 20]);
});

t.test('a slipped answer is header + question with TC=1, rcode and OPT kept', async (t) => {
  const clock = { now: 1000 };
  const { rl } = limiter({ nxdomainsPerSecond: 1, slip: 1 }, clock);
  const template = response('nope.example.', 'NXDOMAIN', { opt: true });
  burst(rl, '192.0.2.7', template, 1);
  const buf = Buffer.from(template);
  rl.clientFromText('192.0.2.7');
  const n = rl.limitResponse(buf, buf.length);
  const msg = dnsPacket.decode(buf.subarray(0, n));
  t.ok((msg.flags! & dnsPacket.TRUNCATED_RESPONSE) !== 0, 'TC');
  t.equal(buf[3]! & 0x0f, 3, 'NXDOMAIN');
  t.strictSame([msg.answers!.length, msg.authorities!.length], [0, 0]);
  t.equal(msg.additionals!.length, 1);
  t.equal(msg.additionals![0]!.type, 'OPT');
  t.equal(msg.questions![0]!.name, 'nope.example');
});

t.test('buckets: per client block and name; NXDOMAIN per zone; TCP-free kinds separate', async (t) => {
  const clock = { now: 1000 };
  const { rl } = limiter({ responsesPerSecond: 2, slip: 0 }, clock);
  t.strictSame(burst(rl, '192.0.2.7', response('a.example.', 'NOERROR'), 5), [2, 0, 3]);
  t.strictSame(burst(rl, '192.0.2.200', response('a.example.', 'NOERROR'), 5), [0, 0, 5], 'same /24 shares the bucket');
  t.strictSame(burst(rl, '192.0.3.7', response('a.example.', 'NOERROR'), 5), [2, 0, 3], 'another /24 has its own');
  t.strictSame(burst(rl, '192.0.2.7', response('b.example.', 'NOERROR'), 5), [2, 0, 3], 'another name has its own');
  t.strictSame(burst(rl, '192.0.2.7', response('A.Example.', 'NOERROR'), 1), [0, 0, 1], 'name case does not matter');
  t.strictSame(burst(rl, '192.0.2.7', response('a.example.', 'NOERROR', { type: 'AAAA' }), 5), [2, 0, 3], 'another qtype has its own');
  t.strictSame(burst(rl, '192.0.2.7', response('x1.example.', 'NXDOMAIN'), 1), [1, 0, 0]);
  t.strictSame(burst(rl, '192.0.2.7', response('x2.example.', 'NXDOMAIN'), 5), [1, 0, 4], 'random names in one zone share');
  t.strictSame(burst(rl, '192.0.2.7', response('a.example.', 'NOERROR', { answer: false, type: 'MX' }), 3), [2, 0, 1], 'NODATA has its own');
  t.strictSame(burst(rl, '2001:db8:0:1::1', response('a.example.', 'NOERROR'), 3), [2, 0, 1]);
  t.strictSame(burst(rl, '2001:db8:0:ff::1', response('a.example.', 'NOERROR'), 3), [0, 0, 3], 'same /56 shares');
  t.strictSame(burst(rl, '::ffff:192.0.2.9', response('a.example.', 'NOERROR'), 1), [0, 0, 1], 'IPv4-mapped is the IPv4 block');
});

t.test('nxdomains-per-second and errors-per-second apart from responses-per-second; 0 is unlimited', async (t) => {
  const clock = { now: 1000 };
  const { rl } = limiter({ responsesPerSecond: 0, nxdomainsPerSecond: 3, errorsPerSecond: 0, slip: 0 }, clock);
  t.strictSame(burst(rl, '192.0.2.7', response('a.example.', 'NOERROR'), 50), [50, 0, 0]);
  t.strictSame(burst(rl, '192.0.2.7', response('x.example.', 'NXDOMAIN'), 50), [3, 0, 47]);
  t.strictSame(burst(rl, '192.0.2.7', response('a.example.', 'REFUSED'), 50), [50, 0, 0]);
});

t.test('window: credit per second, debt at most window x rate, idle longer than the window starts afresh', async (t) => {
  const clock = { now: 1000 };
  const { rl } = limiter({ responsesPerSecond: 5, window: 2, slip: 0 }, clock);
  const a = response('a.example.', 'NOERROR');
  t.strictSame(burst(rl, '192.0.2.7', a, 100), [5, 0, 95], 'balance now at the floor, -10');
  clock.now = 1001;
  t.strictSame(burst(rl, '192.0.2.7', a, 1), [0, 0, 1], '-10 + 5 is still debt');
  clock.now = 1003; // age 2 = window: credited, not reset: -6 + 10 = 4
  t.strictSame(burst(rl, '192.0.2.7', a, 10), [4, 0, 6]);
  clock.now = 1006; // idle 3 s > window: a fresh bucket
  t.strictSame(burst(rl, '192.0.2.7', a, 10), [5, 0, 5]);
  clock.now = 1005; // the clock stepped back: no credit, no crash
  t.strictSame(burst(rl, '192.0.2.7', a, 1), [0, 0, 1]);
});

t.test('exempt clients and log-only answer everything', async (t) => {
  const clock = { now: 1000 };
  const { rl } = limiter({ responsesPerSecond: 1, exemptClients: ['192.0.2.0/28', '2001:db8::/32'] }, clock);
  t.strictSame(burst(rl, '192.0.2.7', response('a.example.', 'NOERROR'), 20), [20, 0, 0]);
  t.strictSame(burst(rl, '2001:db8::5', response('a.example.', 'NOERROR'), 20), [20, 0, 0]);
  t.strictSame(burst(rl, '192.0.2.77', response('a.example.', 'NOERROR'), 3), [1, 1, 1], 'outside the exempt /28');
  const logOnly = limiter({ responsesPerSecond: 1, logOnly: true }, clock);
  t.strictSame(burst(logOnly.rl, '192.0.2.7', response('a.example.', 'NOERROR'), 20), [20, 0, 0]);
  t.equal(logOnly.counts[RL_LOGGED], 19);
});

t.test('queries-per-second drops queries past the limit per client address', async (t) => {
  const clock = { now: 1000 };
  const { rl, counts } = limiter({ queriesPerSecond: 3 }, clock);
  const admitted = (client: string, n: number): number => {
    let ok = 0;
    for (let i = 0; i < n; i++) { rl.clientFromText(client); if (rl.admitQuery()) ok++; }
    return ok;
  };
  t.equal(admitted('192.0.2.7', 10), 3);
  t.equal(admitted('192.0.2.8', 10), 3, 'per address, not per block');
  t.equal(counts[RL_QUERY_DROPPED], 14);
  clock.now = 1001;
  t.equal(admitted('192.0.2.7', 10), 3, 'a second later: the full rate again (no debt)');
});

t.test('the table never grows past max-table-size: the least recently used bucket is reused', async (t) => {
  const clock = { now: 1000 };
  const { rl } = limiter({ responsesPerSecond: 1, slip: 0, maxTableSize: 100, ipv4PrefixLength: 32 }, clock);
  const a = response('a.example.', 'NOERROR');
  t.strictSame(burst(rl, '10.0.0.1', a, 2), [1, 0, 1]);
  for (let i = 0; i < 10_000; i++) burst(rl, `10.1.${i >> 8}.${i & 255}`, a, 1);
  t.equal(rl.buckets, 100);
  t.strictSame(burst(rl, '10.0.0.1', a, 1), [1, 0, 0], 'the evicted bucket starts afresh');
  t.strictSame(burst(rl, '10.1.39.15', a, 1), [0, 0, 1], 'a recent bucket is still there');
});

t.test('referrals share the delegation bucket; a truncated answer counts as an answer', async (t) => {
  const clock = { now: 1000 };
  const { rl } = limiter({ responsesPerSecond: 5, referralsPerSecond: 2, slip: 0 }, clock);
  const referral = (name: string): Buffer => dnsPacket.encode({
    type: 'response', id: 1, flags: 0, questions: [{ type: 'A', name }],
    authorities: [{ type: 'NS', name: 'sub.example.', ttl: 60, data: 'ns.sub.example.' }],
  });
  t.strictSame(burst(rl, '192.0.2.7', referral('a.sub.example.'), 1), [1, 0, 0]);
  t.strictSame(burst(rl, '192.0.2.7', referral('b.sub.example.'), 3), [1, 0, 2], 'names under one delegation share');
  const truncated = Buffer.from(response('big.example.', 'NOERROR', { answer: false, type: 'TXT' }));
  truncated[2] = truncated[2]! | 0x02;
  // (burst() tells answers from slips by TC, so the five sent as they are show up in the middle.)
  t.strictSame(burst(rl, '192.0.2.7', truncated, 7), [0, 5, 2], 'limited at responses-per-second');
});

t.test('limiters sharing one table (one per worker) share the buckets', async (t) => {
  const clock = { now: 1000 };
  const config = { ...defaultRateLimit(), responsesPerSecond: 3, slip: 0 };
  const table = BucketTable.bufferFor(config.maxTableSize);
  const workerA = new RateLimiter(config, null, null, table, () => clock.now);
  const workerB = new RateLimiter(config, null, null, table, () => clock.now);
  const a = response('a.example.', 'NOERROR');
  t.strictSame(burst(workerA, '192.0.2.7', a, 2), [2, 0, 0]);
  t.strictSame(burst(workerB, '192.0.2.7', a, 3), [1, 0, 2], 'the other worker sees the tokens already taken');
});

import t from 'tap';
import fc from 'fast-check';
import { AnswerTable, hashName, slotOf } from './answer-table.js';

/** Lower-case wire bytes of a dotted name. */
function wire(name: string): Buffer {
  const out: number[] = [];
  for (const label of name.split('.').filter((l) => l !== '')) out.push(label.length, ...Buffer.from(label, 'latin1'));
  out.push(0);
  return Buffer.from(out);
}

function h(b: Buffer): number {
  return hashName(b, 0, b.length);
}

t.test('hashName is 32-bit FNV-1a, as an int32', async (t) => {
  // The published vectors are uint32; `| 0` is the same bits signed (all three are above 2^31).
  t.equal(hashName(Buffer.alloc(0), 0, 0), 0x811c9dc5 | 0, 'empty input is the offset basis');
  t.equal(hashName(Buffer.from('a'), 0, 1), 0xe40c292c | 0, 'published FNV-1a test vector for "a"');
  t.equal(hashName(Buffer.from('foobar'), 0, 6), 0xbf9cf968 | 0, 'published FNV-1a test vector for "foobar"');
  t.equal(hashName(Buffer.from('xxfoobarxx'), 2, 6), 0xbf9cf968 | 0, 'offset and length respected');
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 255 }), (bytes) => {
    const hash = hashName(Buffer.from(bytes), 0, bytes.length);
    return hash === (hash | 0); // never a uint32 above 2^31, which V8 would box when passed to a call
  }));
});

t.test('hashes with the sign bit set are stored, found and deleted', async (t) => {
  const tab = new AnswerTable<string>();
  const n = wire('a'); // any name: the hash below is chosen, not computed
  for (const hash of [-1, -0x80000000, 0x811c9dc5 | 0]) {
    tab.set(n, n.length, hash, 1, 1, String(hash));
    t.equal(tab.get(n, n.length, hash, 1, 1), String(hash), `found under ${hash}`);
    t.equal(tab.deleteName(n, n.length, hash), 1, `deleted under ${hash}`);
  }
  t.equal(tab.size, 0);
});

t.test('get/set/replace by (name, type, class)', async (t) => {
  const tab = new AnswerTable<string>();
  const n = wire('www.example.com');
  tab.set(n, n.length, h(n), 1, 1, 'A');
  tab.set(n, n.length, h(n), 28, 1, 'AAAA');
  tab.set(n, n.length, h(n), 1, 3, 'A/CH');
  t.equal(tab.size, 3);
  t.equal(tab.get(n, n.length, h(n), 1, 1), 'A');
  t.equal(tab.get(n, n.length, h(n), 28, 1), 'AAAA');
  t.equal(tab.get(n, n.length, h(n), 1, 3), 'A/CH');
  t.equal(tab.get(n, n.length, h(n), 16, 1), undefined);
  tab.set(n, n.length, h(n), 1, 1, 'A2');
  t.equal(tab.size, 3, 'replacing does not add');
  t.equal(tab.get(n, n.length, h(n), 1, 1), 'A2');
  // Lookup with a buffer longer than the name (a QuerySlot's 255-byte lowerName).
  const slotLike = Buffer.alloc(255, 0x77);
  n.copy(slotLike);
  t.equal(tab.get(slotLike, n.length, h(n), 28, 1), 'AAAA');
  // A prefix of the name is a different name.
  t.equal(tab.get(n, n.length - 1, hashName(n, 0, n.length - 1), 1, 1), undefined);
});

t.test('the name is copied on set', async (t) => {
  const tab = new AnswerTable<number>();
  const n = wire('a.example');
  const hash = h(n);
  tab.set(n, n.length, hash, 1, 1, 42);
  n[1] = 0x62; // caller reuses its buffer
  const fresh = wire('a.example');
  t.equal(tab.get(fresh, fresh.length, hash, 1, 1), 42);
});

t.test('full hash collisions are told apart by the name bytes', async (t) => {
  const tab = new AnswerTable<string>();
  const names = ['a.one', 'b.two', 'c.three', 'd.four', 'e.five'].map(wire);
  // Same (wrong) hash for all: every entry lands in one probe run.
  for (const n of names) tab.set(n, n.length, 7, 1, 1, n.toString('latin1'));
  for (const n of names) t.equal(tab.get(n, n.length, 7, 1, 1), n.toString('latin1'));
  t.equal(tab.get(wire('f.six'), wire('f.six').length, 7, 1, 1), undefined);
  // Delete from the middle of the run; the rest must stay reachable.
  t.ok(tab.delete(names[1]!, names[1]!.length, 7, 1, 1));
  t.equal(tab.get(names[1]!, names[1]!.length, 7, 1, 1), undefined);
  for (const i of [0, 2, 3, 4]) t.equal(tab.get(names[i]!, names[i]!.length, 7, 1, 1), names[i]!.toString('latin1'));
  t.equal(tab.deleteName(names[3]!, names[3]!.length, 7), 1);
  for (const i of [0, 2, 4]) t.equal(tab.get(names[i]!, names[i]!.length, 7, 1, 1), names[i]!.toString('latin1'));
  t.equal(tab.size, 3);
});

t.test('deletion shifts entries back across the end of the table', async (t) => {
  // In the initial 16-slot table, aim two entries at slot 14 and two at slot 15: the run 14,15,0,1
  // wraps. Deleting the first must keep the wrapped entry whose home is 15 reachable.
  const hashFor = (slot: number): number => {
    let x = 0;
    while (slotOf(x, 15) !== slot) x++;
    return x;
  };
  const at14 = hashFor(14);
  const at15 = hashFor(15);
  const tab = new AnswerTable<string>();
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(wire) as [Buffer, Buffer, Buffer, Buffer];
  tab.set(a, a.length, at14, 1, 1, 'a'); // slot 14
  tab.set(b, b.length, at15, 1, 1, 'b'); // slot 15
  tab.set(c, c.length, at15, 1, 1, 'c'); // wraps to 0
  tab.set(d, d.length, at14, 1, 1, 'd'); // wraps to 1
  t.ok(tab.delete(a, a.length, at14, 1, 1));
  t.equal(tab.get(b, b.length, at15, 1, 1), 'b');
  t.equal(tab.get(c, c.length, at15, 1, 1), 'c');
  t.equal(tab.get(d, d.length, at14, 1, 1), 'd');
  t.ok(tab.delete(b, b.length, at15, 1, 1));
  t.equal(tab.get(c, c.length, at15, 1, 1), 'c');
  t.equal(tab.get(d, d.length, at14, 1, 1), 'd');
  t.equal(tab.size, 2);
});

t.test('deleteName removes every type and class of one name only', async (t) => {
  const tab = new AnswerTable<number>();
  const a = wire('a.example');
  const b = wire('b.example');
  for (const type of [1, 2, 5, 6, 15, 16, 28, 33]) {
    tab.set(a, a.length, h(a), type, 1, type);
    tab.set(b, b.length, h(b), type, 1, type);
  }
  tab.set(a, a.length, h(a), 16, 3, 99);
  t.equal(tab.deleteName(a, a.length, h(a)), 9);
  t.equal(tab.size, 8);
  for (const type of [1, 2, 5, 6, 15, 16, 28, 33]) {
    t.equal(tab.get(a, a.length, h(a), type, 1), undefined);
    t.equal(tab.get(b, b.length, h(b), type, 1), type);
  }
  t.equal(tab.deleteName(a, a.length, h(a)), 0, 'second time: nothing left');
  t.notOk(tab.delete(a, a.length, h(a), 1, 1));
});

t.test('clear empties the table', async (t) => {
  const tab = new AnswerTable<number>();
  for (let i = 0; i < 100; i++) {
    const n = wire(`n${i}.example`);
    tab.set(n, n.length, h(n), 1, 1, i);
  }
  tab.clear();
  t.equal(tab.size, 0);
  const n = wire('n5.example');
  t.equal(tab.get(n, n.length, h(n), 1, 1), undefined);
  tab.set(n, n.length, h(n), 1, 1, 5);
  t.equal(tab.get(n, n.length, h(n), 1, 1), 5);
});

t.test('set rejects impossible name lengths', async (t) => {
  const tab = new AnswerTable<number>();
  t.throws(() => tab.set(Buffer.alloc(1), 0, 0, 1, 1, 1));
  t.throws(() => tab.set(Buffer.alloc(300), 256, 0, 1, 1, 1));
});

t.test('thousands of names: growth, arena compaction, delete and re-insert', async (t) => {
  const tab = new AnswerTable<number>();
  const names: Buffer[] = [];
  for (let i = 0; i < 5000; i++) names.push(wire(`svc${i}.ns${i % 37}.svc.cluster.local`));
  names.forEach((n, i) => tab.set(n, n.length, h(n), 1, 1, i));
  t.equal(tab.size, 5000);
  let bad = 0;
  names.forEach((n, i) => { if (tab.get(n, n.length, h(n), 1, 1) !== i) bad++; });
  t.equal(bad, 0, 'all 5000 found after growth');
  // Churn: delete every other name, re-insert with new values several times (arena garbage).
  for (let round = 0; round < 4; round++) {
    for (let i = round % 2; i < names.length; i += 2) tab.deleteName(names[i]!, names[i]!.length, h(names[i]!));
    t.equal(tab.size, 2500);
    for (let i = round % 2; i < names.length; i += 2) tab.set(names[i]!, names[i]!.length, h(names[i]!), 1, 1, i + round * 10000);
    t.equal(tab.size, 5000);
  }
  bad = 0;
  names.forEach((n, i) => {
    const lastRound = i % 2 === 1 ? 3 : 2;
    if (tab.get(n, n.length, h(n), 1, 1) !== i + lastRound * 10000) bad++;
  });
  t.equal(bad, 0, 'every value is the latest after churn');
  t.ok(tab.byteSize < 5000 * 200, `memory stays modest (${tab.byteSize} bytes for 5000 entries)`);
  let seen = 0;
  tab.forEach((name, qtype, qclass, value) => {
    if (qtype === 1 && qclass === 1 && names[value % 10000]!.equals(name)) seen++;
  });
  t.equal(seen, 5000, 'forEach visits every entry with its own name');
});

// Model-based: random operations against a Map keyed by name|type|class, with a tiny hash space to
// force long probe runs and backward shifts across the wrap-around.
t.test('random operations agree with a Map model', async (t) => {
  const nameArb = fc.constantFrom(...['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'www.x', 'mail.x', '.'].map(wire));
  const op = fc.tuple(fc.constantFrom('set', 'del', 'delName', 'get'), nameArb, fc.constantFrom(1, 28, 33), fc.nat(3));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), fc.boolean(), fc.nat(), (ops, weakHash, salt) => {
      const tab = new AnswerTable<number>();
      const model = new Map<string, number>();
      // Weak mode: 4 hash values, moved around by a random salt so runs also wrap past the table end; an
      // int32, as the table takes hashes (hashName, QuerySlot.hash).
      const hashOf = (n: Buffer): number => (weakHash ? ((h(n) & 3) + salt) | 0 : h(n));
      let counter = 0;
      for (const [kind, n, type, cls] of ops) {
        const key = `${n.toString('hex')}|${type}|${cls}`;
        if (kind === 'set') {
          tab.set(n, n.length, hashOf(n), type, cls, ++counter);
          model.set(key, counter);
        } else if (kind === 'del') {
          if (tab.delete(n, n.length, hashOf(n), type, cls) !== model.delete(key)) return false;
        } else if (kind === 'delName') {
          let expected = 0;
          for (const k of [...model.keys()]) if (k.startsWith(n.toString('hex') + '|')) { model.delete(k); expected++; }
          if (tab.deleteName(n, n.length, hashOf(n)) !== expected) return false;
        } else if (tab.get(n, n.length, hashOf(n), type, cls) !== model.get(key)) {
          return false;
        }
        if (tab.size !== model.size) return false;
      }
      for (const [key, value] of model) {
        const [hex, type, cls] = key.split('|');
        const n = Buffer.from(hex!, 'hex');
        if (tab.get(n, n.length, hashOf(n), Number(type), Number(cls)) !== value) return false;
      }
      return true;
    }),
    { numRuns: 300 },
  );
  t.pass('300 random operation sequences');
});

import t from 'tap';
import { formatRecord, parseRecordInput, recordName, recordType, RecordProblem } from './records.js';
import { TYPE_A, TYPE_CNAME, TYPE_MX, TYPE_TXT } from '../dns/constants.js';

const ZONE = 'example.com.';

function problemOf(fn: () => unknown): RecordProblem | null {
  try {
    fn();
    return null;
  } catch (e) {
    return e instanceof RecordProblem ? e : null;
  }
}

t.test('names: apex, relative, absolute, already-qualified; outside the zone refused', async (t) => {
  t.equal(recordName('@', ZONE), 'example.com.');
  t.equal(recordName('www', ZONE), 'www.example.com.');
  t.equal(recordName('WWW.Example.COM', ZONE), 'www.example.com.');
  t.equal(recordName('www.example.com.', ZONE), 'www.example.com.');
  t.equal(recordName('example.com', ZONE), 'example.com.');
  for (const bad of ['', 'www.example.org.', 'a..b', 'x'.repeat(64)]) {
    t.equal(problemOf(() => recordName(bad, ZONE))?.field, 'name', `refused: '${bad}'`);
  }
});

t.test('types: the writable ones only', async (t) => {
  t.equal(recordType('a'), TYPE_A);
  t.equal(recordType('MX'), TYPE_MX);
  for (const bad of ['SOA', 'HINFO', 'BOGUS', '']) t.equal(problemOf(() => recordType(bad))?.field, 'type', bad);
});

t.test('values in presentation format, relative names completed with the zone', async (t) => {
  const mx = parseRecordInput(ZONE, 'example.com.', TYPE_MX, { ttl: 300, values: ['10 mail', '20 backup.example.net.'] });
  t.same(formatRecord(mx), { name: 'example.com.', type: 'MX', ttl: 300, values: ['10 mail.example.com.', '20 backup.example.net.'] });
  const txt = parseRecordInput(ZONE, 'txt.example.com.', TYPE_TXT, { values: ['"a b" c'] });
  t.equal(txt.ttl, 60, 'default TTL');
  t.same(formatRecord(txt).values, ['"a b" "c"']);
  const dup = parseRecordInput(ZONE, 'www.example.com.', TYPE_A, { values: ['10.0.0.1', '10.0.0.1'] });
  t.equal(dup.rdatas.length, 1, 'an RRset is a set');
});

t.test('bad bodies name the field', async (t) => {
  const cases: [number, unknown, string | null][] = [
    [TYPE_A, null, null],
    [TYPE_A, [], null],
    [TYPE_A, { values: ['10.0.0.1'], extra: 1 }, 'extra'],
    [TYPE_A, { ttl: 1.5, values: ['10.0.0.1'] }, 'ttl'],
    [TYPE_A, { ttl: 2 ** 31, values: ['10.0.0.1'] }, 'ttl'],
    [TYPE_A, { ttl: '60', values: ['10.0.0.1'] }, 'ttl'],
    [TYPE_A, { values: '10.0.0.1' }, 'values'],
    [TYPE_A, { values: ['10.0.0.1', 'ten'] }, 'values[1]'],
    [TYPE_A, { values: [42] }, 'values[0]'],
    [TYPE_A, { values: ['10.0.0.1\n10.0.0.2'] }, 'values[0]'],
    [TYPE_CNAME, { values: ['a', 'b'] }, 'values'],
    [TYPE_MX, { values: ['mail'] }, 'values[0]'],
  ];
  for (const [type, body, field] of cases) {
    const problem = problemOf(() => parseRecordInput(ZONE, 'www.example.com.', type, body));
    t.ok(problem !== null, `refused: ${JSON.stringify(body)}`);
    t.equal(problem?.field, field, `${JSON.stringify(body)}: ${problem?.message}`);
    t.equal(problem?.status, 400);
  }
});

// Differential test on any zone files, from the command line:
//   node dist/test/diff/run.js --zone FILE@ORIGIN [--zone ...] [--count N] [--seed S]
//        [--concurrency N] [--strict-tc] [--max-report N] [--against-named]
// Starts BIND (reference) and kdns on the same zones, sends the seeded corpus to both, prints each
// difference with the query (as dig arguments) and ends with "N passed, N failed".
// --against-named compares named with a second named (a check of the harness itself).
// Exit code: 0 when nothing differs, 1 on differences, 2 on bad arguments.
import { parseZoneArg, readZone, generateCorpus, type ZoneSpec } from './corpus.js';
import { formatDiffs } from './compare.js';
import { runCorpus, startPair } from './runner.js';
import { startNamed } from '../helpers/named.js';

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: run.js --zone FILE@ORIGIN [--zone ...] [--count N] [--seed S] ` +
    '[--concurrency N] [--strict-tc] [--max-report N] [--against-named]\n');
  process.exit(2);
}

function intArg(name: string, v: string | undefined): number {
  if (v === undefined || !/^\d+$/.test(v)) usage(`${name} needs a non-negative integer`);
  return Number(v);
}

async function main(argv: string[]): Promise<number> {
  const zones: ZoneSpec[] = [];
  let count: number | undefined;
  let seed = 1;
  let concurrency = 16;
  let strictTc = false;
  let maxReport = 200;
  let againstNamed = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--zone': case '--zone-file': {
        const v = value();
        if (!v) usage('--zone needs FILE@ORIGIN');
        zones.push(parseZoneArg(v));
        break;
      }
      case '--count': count = intArg('--count', value()); break;
      case '--seed': seed = intArg('--seed', value()); break;
      case '--concurrency': concurrency = intArg('--concurrency', value()); break;
      case '--max-report': maxReport = intArg('--max-report', value()); break;
      case '--strict-tc': strictTc = true; break;
      case '--against-named': againstNamed = true; break;
      case '-h': case '--help': usage('differential test of kdns against BIND');
      // falls through (usage exits)
      default: usage(`unknown argument ${a}`);
    }
  }
  if (zones.length === 0) usage('at least one --zone is needed');

  const data = zones.map((z) => readZone(z.file, z.origin));
  const corpus = generateCorpus(data, { seed, count });
  process.stdout.write(`corpus: ${corpus.length} queries over ${zones.length} zone(s), seed ${seed}\n`);

  let portB: number;
  let stop: () => Promise<void>;
  let portA: number;
  let labels: [string, string];
  if (againstNamed) {
    const a = await startNamed(zones);
    const b = await startNamed(zones).catch(async (e) => { await a.stop(); throw e; });
    portA = a.port;
    portB = b.port;
    labels = ['named#1', 'named#2'];
    stop = async () => { await Promise.all([a.stop(), b.stop()]); };
  } else {
    const pair = await startPair(zones);
    portA = pair.named.port;
    portB = pair.kdns.port;
    labels = ['bind', 'kdns'];
    stop = pair.stop;
  }
  try {
    const res = await runCorpus(corpus, portA, portB, { concurrency, strictTc, labels });
    if (res.diffs.length > 0) process.stdout.write(formatDiffs(res.diffs, maxReport) + '\n');
    process.stdout.write(`${res.passed} passed, ${res.failed} failed\n`);
    return res.failed === 0 ? 0 : 1;
  } finally {
    await stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);

// The process-global C tables under concurrency: stress/shared-tables.c runs reader threads answering
// through their own views while writer threads insert, replace, delete and clear, and one thread rewrites
// the negative name set in batches. Built here with the compiler that builds the addon, under
// ThreadSanitizer (a data race fails it) and AddressSanitizer (a use after free: an entry freed while a
// reader held it); the harness itself fails on a torn answer (checksum), a wrong NXDOMAIN, a bound passed,
// or a store left alive. A sanitizer the toolchain lacks is reported, and the plain build still runs.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SOURCES = ['test/native/stress/shared-tables.c', 'native/answer_cache.c', 'native/negative.c', 'native/epoch.c'].map((f) => join(ROOT, f));
const CC = process.env.CC ?? 'cc';

/** Builds the harness with `flags`; null when this toolchain cannot (a sanitizer runtime not installed). */
function build(dir: string, name: string, flags: string[]): string | null {
  const out = join(dir, name);
  const r = spawnSync(CC, ['-std=gnu11', '-g', '-Wall', '-Wextra', ...flags, '-o', out, ...SOURCES, '-lpthread'], { encoding: 'utf8' });
  return r.status === 0 ? out : null;
}

const dir = mkdtempSync(join(tmpdir(), 'kdns-shared-tables-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const runs: { label: string; flags: string[]; rounds: number }[] = [
  { label: 'plain -O2', flags: ['-O2'], rounds: 20000 },
  { label: 'ThreadSanitizer', flags: ['-O1', '-fsanitize=thread'], rounds: 5000 },
  { label: 'AddressSanitizer', flags: ['-O1', '-fsanitize=address'], rounds: 10000 },
];

for (const run of runs) {
  t.test(`readers never see a torn or freed entry, bounds hold (${run.label})`, (t) => {
    const exe = build(dir, run.label.replace(/\W/g, ''), run.flags);
    if (exe === null) {
      if (run.flags.length === 1) t.fail(`${CC} cannot build the harness`);
      else t.comment(`${CC} has no ${run.label} runtime here: not run`);
      t.end();
      return;
    }
    let out = '';
    let ok = true;
    try {
      out = execFileSync(exe, [String(run.rounds)], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, TSAN_OPTIONS: 'halt_on_error=1' } });
    } catch (err) {
      ok = false;
      const e = err as { stdout?: string; stderr?: string };
      out = `${e.stdout ?? ''}\n${(e.stderr ?? '').slice(0, 4000)}`;
    }
    t.ok(ok, 'the harness exits 0 (no sanitizer report, no failed check)');
    t.match(out, /^ok reads=\d+ answers=[1-9]\d* negatives=[1-9]\d* .*failures=0/m, out.trim().split('\n').slice(-3).join(' | '));
    t.end();
  });
}

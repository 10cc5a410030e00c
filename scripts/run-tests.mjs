#!/usr/bin/env node
// `npm test`: compile, run every test file with tap, then every suite that starts a server (all of test/
// but test/native, which is the addon's own) a second time on the node packet engine (the default run
// uses native where the addon is built), and end with one plain
// line "N passed, N failed" (what CI reads). Exit code: non-zero when any pass failed.
import { spawnSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const tsc = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.'], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(tsc.status ?? 1);
}

// tap's own file discovery skips dist/, where the compiled tests live, so list them here.
function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return testFiles(path);
    return e.name.endsWith('.test.js') ? [path] : [];
  });
}

function runTap(files, env, title) {
  console.log(`# ${title}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/tap/dist/esm/run.mjs', ...files], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let tail = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    });
    child.on('close', (code) => {
      const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?/.exec(tail.slice(tail.lastIndexOf('# { total')));
      const pass = m ? Number(m[2] ?? 0) : 0;
      let fail = m ? Number(m[3] ?? 0) : 1;
      if (code !== 0 && fail === 0) fail = 1; // a crash or timeout outside any assertion still fails
      resolve({ pass, fail, code: code ?? 1 });
    });
  });
}

const args = process.argv.slice(2);
const all = args.length > 0 ? args : [...testFiles('dist/src'), ...testFiles('dist/test')].sort();
const runs = [await runTap(all, {}, 'all tests, default engine')];
if (args.length === 0 && !process.env.KDNS_ENGINE) {
  // The same suites on the portable engine, so both engines stay correct. The unit tests beside the code
  // (dist/src) do not depend on the engine, and test/native tests the addon itself.
  const served = testFiles('dist/test').filter((f) => !f.startsWith(join('dist', 'test', 'native'))).sort();
  runs.push(await runTap(served, { KDNS_ENGINE: 'node' }, 'every server-starting suite again on the node engine'));
}
const pass = runs.reduce((n, r) => n + r.pass, 0);
const fail = runs.reduce((n, r) => n + r.fail, 0);
console.log(`${pass} passed, ${fail} failed`);
process.exit(runs.some((r) => r.code !== 0) ? 1 : 0);

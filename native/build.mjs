#!/usr/bin/env node
// Builds the native addon with node-gyp against the Node headers already on this machine. Never downloads:
// without local headers (or without node-gyp, or on Windows) it logs why and exits 0, and kdns runs on
// the portable `node` engine. `npm install` must never fail because of the addon.
//
// Environment:
//   KDNS_SKIP_NATIVE=1      do not build
//   KDNS_NATIVE_REQUIRED=1  exit 1 when the build fails (CI, where the native engine must be tested)
//   KDNS_NODEDIR=DIR        Node install whose include/node has node_api.h (default: found from `node`)

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const required = process.env.KDNS_NATIVE_REQUIRED === '1';
const BUILD_TIMEOUT_MS = 5 * 60 * 1000;

function log(msg) {
  console.log(`kdns native: ${msg}`);
}

function giveUp(reason) {
  log(`not built (${reason}); kdns will use the node engine`);
  process.exit(required ? 1 : 0);
}

function hasHeaders(dir) {
  return existsSync(join(dir, 'include', 'node', 'node_api.h')) && existsSync(join(dir, 'include', 'node', 'uv.h'));
}

/** A Node install with headers, without any download: the flag, npm's setting, or where `node` lives. */
function findNodeDir() {
  const candidates = [
    process.env.KDNS_NODEDIR,
    process.env.npm_config_nodedir,
    resolve(dirname(process.execPath), '..'),
    '/usr',
    '/usr/local',
  ];
  for (const dir of candidates) if (dir && hasHeaders(dir)) return dir;
  return null;
}

/** node-gyp from the project, else the copy npm ships with. */
function findNodeGyp() {
  try {
    return createRequire(join(here, '..', 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    // not a dependency: fall through to npm's bundled copy
  }
  const candidates = [];
  if (process.env.npm_execpath) candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const prefix = resolve(dirname(process.execPath), '..');
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  candidates.push('/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  return candidates.find((p) => existsSync(p)) ?? null;
}

if (process.env.KDNS_SKIP_NATIVE === '1') giveUp('KDNS_SKIP_NATIVE=1');
if (process.platform === 'win32') giveUp('the addon uses POSIX sockets; Windows is not supported');
const nodedir = findNodeDir();
if (nodedir === null) giveUp('no local Node headers (include/node/node_api.h); set KDNS_NODEDIR, headers are never downloaded');
const nodeGyp = findNodeGyp();
if (nodeGyp === null) giveUp('node-gyp not found (neither a dependency nor bundled with npm)');

log(`building with ${nodeGyp} --nodedir=${nodedir}`);
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`], {
  cwd: here,
  stdio: 'inherit',
  timeout: BUILD_TIMEOUT_MS,
  // No registry and no tarball: with --nodedir node-gyp reads headers from disk; these make a mistake fail fast.
  env: { ...process.env, npm_config_nodedir: nodedir, npm_config_disturl: 'http://127.0.0.1:9/no-download' },
});
if (result.error) giveUp(`node-gyp did not run: ${result.error.message}`);
if (result.status !== 0) giveUp(`node-gyp exited with ${result.status ?? result.signal}`);
const built = join(here, 'build', 'Release', 'kdns_native.node');
if (!existsSync(built)) giveUp(`node-gyp succeeded but ${built} is missing`);
log(`built ${built}`);

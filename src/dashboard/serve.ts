// The dashboard's files: the page, its script and style from static/ in the package, and uPlot from the
// uplot package in node_modules, so it works offline and without a CDN. Read once, on first request.

import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface Asset {
  type: string;
  path: string;
}

// From dist/src/dashboard/ back to the package's src/dashboard/static/ (tsc does not copy non-TS files).
const STATIC = fileURLToPath(new URL('../../../src/dashboard/static/', import.meta.url));
const require = createRequire(import.meta.url);

const ASSETS: Record<string, () => Asset> = {
  '/': () => ({ type: 'text/html; charset=utf-8', path: STATIC + 'index.html' }),
  '/dashboard/app.js': () => ({ type: 'text/javascript; charset=utf-8', path: STATIC + 'app.js' }),
  '/dashboard/style.css': () => ({ type: 'text/css; charset=utf-8', path: STATIC + 'style.css' }),
  '/dashboard/uPlot.js': () => ({ type: 'text/javascript; charset=utf-8', path: require.resolve('uplot/dist/uPlot.iife.min.js') }),
  '/dashboard/uPlot.css': () => ({ type: 'text/css; charset=utf-8', path: require.resolve('uplot/dist/uPlot.min.css') }),
};

const loaded = new Map<string, { type: string; body: Buffer }>();

/** Serves the dashboard's files; false for any other path. */
export function handleDashboard(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const asset = ASSETS[url.pathname];
  if (asset === undefined) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end('method not allowed\n');
    return true;
  }
  let file = loaded.get(url.pathname);
  if (file === undefined) {
    const { type, path } = asset();
    file = { type, body: readFileSync(path) };
    loaded.set(url.pathname, file);
  }
  res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length, 'cache-control': 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : file.body);
  return true;
}

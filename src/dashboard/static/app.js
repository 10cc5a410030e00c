// The kdns dashboard: polls /api/v1/stats/summary (running totals) every second and turns differences into
// rates and latency percentiles; polls the top lists every 2 s; the zone browser and the inspection report
// on demand. Plain script, no build step; every text from the server goes in through textContent.
'use strict';

const POINTS = 120; // two minutes of one-second samples
const RCODES = ['NOERROR', 'NXDOMAIN', 'SERVFAIL', 'REFUSED', 'other'];
const PROTOS = ['udp', 'tcp'];
const $ = (id) => document.getElementById(id);

let previous = null;
const series = { time: [], rcode: RCODES.map(() => []), proto: PROTOS.map(() => []), latency: [[], [], []] };
window.kdnsSeries = series; // what the charts plot, for the browser test (test/dashboard)

function chart(el, labels, colors, unit) {
  const opts = {
    width: Math.max(360, el.clientWidth || 420), height: 180,
    series: [{}, ...labels.map((label, i) => ({ label, stroke: colors[i], width: 1.5, value: (u, v) => (v == null ? '–' : v.toFixed(unit === 'ms' ? 2 : 0)) }))],
    axes: [{}, { size: 50 }],
    legend: { live: false },
  };
  return new uPlot(opts, [[], ...labels.map(() => [])], el);
}

const charts = {
  rcode: chart($('chart-rcode'), RCODES, ['#1e8449', '#d68910', '#c0392b', '#7d3c98', '#7f8c8d'], 'qps'),
  proto: chart($('chart-proto'), PROTOS, ['#2e86c1', '#ca6f1e'], 'qps'),
  latency: chart($('chart-latency'), ['p50', 'p95', 'p99'], ['#2e86c1', '#d68910', '#c0392b'], 'ms'),
};

function push(list, value) {
  list.push(value);
  if (list.length > POINTS) list.shift();
}

function rate(now, before, key, seconds) {
  return Math.max(0, ((now[key] || 0) - (before[key] || 0)) / seconds);
}

/** The upper bound (ms) of the bucket holding the p-quantile of the requests between two readings. */
function percentile(now, before, p) {
  const counts = now.duration.cumulative.map((c, i) => c - (before.duration.cumulative[i] || 0));
  const total = counts[counts.length - 1];
  if (!(total > 0)) return null;
  const bound = now.duration.bounds;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] >= p * total) return i < bound.length ? bound[i] * 1000 : bound[bound.length - 1] * 1000;
  }
  return null;
}

function otherRcodes(responses) {
  let n = 0;
  for (const [k, v] of Object.entries(responses)) if (!RCODES.includes(k)) n += v;
  return n;
}

function fmt(n) {
  if (n == null) return '–';
  if (n >= 10000) return (n / 1000).toFixed(1) + 'k';
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

function render(now) {
  $('workers').textContent = String(now.workers);
  const up = now.upstreams.filter((u) => u.up).length;
  $('upstreams').textContent = now.upstreams.length === 0 ? 'none' : `${up} / ${now.upstreams.length}`;
  const lookups = now.cache.hits + now.cache.misses;
  $('hit-ratio').textContent = lookups === 0 ? '–' : `${((100 * now.cache.hits) / lookups).toFixed(1)} %`;
  renderUpstreams(now.upstreams);
  if (previous === null) return;
  const seconds = Math.max(0.001, (now.time - previous.time) / 1000);
  now.responses.other = otherRcodes(now.responses);
  const qps = rate(now.requests, previous.requests, 'udp', seconds) + rate(now.requests, previous.requests, 'tcp', seconds);
  $('qps').textContent = fmt(qps);
  $('nxps').textContent = fmt(rate(now.responses, previous.responses, 'NXDOMAIN', seconds));
  const ps = [0.5, 0.95, 0.99].map((p) => percentile(now, previous, p));
  $('latency').textContent = ps.map((v) => (v == null ? '–' : v < 1 ? v.toFixed(3) : v.toFixed(1))).join(' / ') + ' ms';
  push(series.time, now.time / 1000);
  RCODES.forEach((r, i) => push(series.rcode[i], rate(now.responses, previous.responses, r, seconds)));
  PROTOS.forEach((p, i) => push(series.proto[i], rate(now.requests, previous.requests, p, seconds)));
  ps.forEach((v, i) => push(series.latency[i], v));
  charts.rcode.setData([series.time, ...series.rcode]);
  charts.proto.setData([series.time, ...series.proto]);
  charts.latency.setData([series.time, ...series.latency]);
}

function row(tbody, cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.appendChild(c);
    else td.textContent = String(c);
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
  return tr;
}

function renderUpstreams(upstreams) {
  const tbody = $('upstream-table').tBodies[0];
  tbody.replaceChildren();
  if (upstreams.length === 0) row(tbody, ['no upstreams (not forwarding, or none configured)']);
  for (const u of upstreams) {
    const tr = row(tbody, [u.upstream, u.up ? 'up' : 'down']);
    tr.lastChild.className = u.up ? 'up' : 'down';
  }
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

async function pollSummary() {
  try {
    const now = await getJson('/api/v1/stats/summary');
    render(now);
    previous = now;
    $('status').textContent = `updated ${new Date(now.time).toLocaleTimeString()}`;
  } catch (err) {
    $('status').textContent = `cannot read kdns: ${err.message}`;
  }
}

async function pollTop() {
  for (const by of ['name', 'nxdomain', 'client', 'namespace']) {
    const tbody = $('top-' + by).tBodies[0];
    try {
      const report = await getJson(`/api/v1/stats/top?by=${by}&n=10`);
      if (by === 'name') $('top-window').textContent = `(last ${report.windowSeconds} s, ${Math.round(report.total)} answers)`;
      tbody.replaceChildren();
      if (report.top.length === 0) row(tbody, ['nothing yet']);
      const max = report.top.length > 0 ? report.top[0].count : 1;
      for (const e of report.top) {
        const bar = document.createElement('span');
        bar.className = 'bar';
        bar.style.width = `${Math.max(2, (60 * e.count) / max)}px`;
        const tr = row(tbody, [e.key, e.count, bar]);
        tr.cells[0].className = 'key';
        tr.cells[1].className = 'num';
        tr.dataset.key = e.key;
      }
    } catch (err) {
      tbody.replaceChildren();
      row(tbody, [err.message]);
    }
  }
}

function pre(lines) {
  const el = document.createElement('pre');
  el.textContent = lines.join('\n');
  return el;
}

async function browse(event) {
  event.preventDefault();
  const out = $('browse-result');
  const name = $('browse-name').value.trim();
  if (name === '') return;
  try {
    const v = await getJson(`/api/v1/inspect/name?name=${encodeURIComponent(name)}`);
    const lines = [`; ${v.name} in zone ${v.zone ?? '(none: forwarded or refused)'}${v.exists ? '' : ' — does not exist (NXDOMAIN)'}`];
    for (const r of v.records) for (const d of r.data) lines.push(`${v.name} ${r.ttl} ${r.type} ${d}`);
    for (const p of v.provenance ?? []) lines.push(`; from ${p.kind} ${p.namespace}/${p.name}${p.detail ? ': ' + p.detail : ''}`);
    out.replaceChildren(pre(lines));
  } catch (err) {
    out.replaceChildren(pre([`error: ${err.message}`]));
  }
}

async function loadReport() {
  const out = $('report');
  try {
    const r = await getJson('/api/v1/inspect/report');
    const parts = [];
    for (const section of r.sections) {
      const h = document.createElement('h3');
      h.textContent = `${section.title} (${section.items.length})`;
      h.className = section.items.length === 0 ? 'ok' : 'problem';
      parts.push(h);
      if (section.note) {
        const note = document.createElement('div');
        note.className = 'muted';
        note.textContent = section.note;
        parts.push(note);
      }
      if (section.items.length > 0) parts.push(pre(section.items));
    }
    out.replaceChildren(...parts);
  } catch (err) {
    out.replaceChildren(pre([`inspection unavailable: ${err.message}`]));
  }
}

$('browse').addEventListener('submit', browse);
pollSummary();
pollTop();
loadReport();
setInterval(pollSummary, 1000);
setInterval(pollTop, 2000);
setInterval(loadReport, 10000);

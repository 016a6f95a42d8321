// Drift monitoring: the drift tasks, and per task the latest report (features by severity with a
// histogram of baseline vs primary each, model quality) and charts of every metric across runs
// and windows with the threshold line. Charts are SVG drawn here.
import { api, enc } from './api.js';
import { h, s, when } from './dom.js';

const P_VALUE_TESTS = ['ks', 'chisquare', 'z'];

function fmt(v) {
  if (v === null || v === undefined) return '–';
  const a = Math.abs(v);
  return a !== 0 && (a < 0.001 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}

// How far past (or short of) its threshold a result is: above 1 means drift.
function severity(row) {
  if (row.value === null) return 0;
  if (P_VALUE_TESTS.includes(row.test)) return row.value > 0 ? row.threshold / row.value : 1e300;
  return row.threshold ? row.value / row.threshold : 0;
}

function histogram(bins) {
  if (!bins) return '';
  const width = 160, height = 40, n = bins.baseline.length;
  const top = Math.max(...bins.baseline, ...bins.primary, 1e-9);
  const w = width / n;
  const bars = [];
  for (let i = 0; i < n; i++) {
    const b = (bins.baseline[i] / top) * height, p = (bins.primary[i] / top) * height;
    bars.push(s('rect', { class: 'hist-baseline', x: i * w, y: height - b, width: w / 2, height: b }));
    bars.push(s('rect', { class: 'hist-primary', x: i * w + w / 2, y: height - p, width: w / 2,
      height: p }));
  }
  const label = bins.per_value ? `${n} values` : `${n} bins, ${fmt(bins.edges[0])} to ${fmt(bins.edges[n])}`;
  return s('svg', { class: 'histogram', width, height, viewBox: `0 0 ${width} ${height}`,
    role: 'img', 'aria-label': `baseline vs primary: ${label}` }, s('title', {}, label), bars);
}

function chart(series) {
  const width = 320, height = 120, left = 64, bottom = 18, top = 8, right = 8;
  const points = series.points.filter((p) => p.value !== null);
  const values = points.map((p) => p.value).concat(points.map((p) => p.threshold ?? p.value));
  let lo = Math.min(...values), hi = Math.max(...values);
  if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
  const x = (i) => left + (points.length > 1 ? (i * (width - left - right)) / (points.length - 1)
    : (width - left - right) / 2);
  const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join('');
  const threshold = points.map((p, i) => p.threshold === null ? '' :
    `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.threshold).toFixed(1)}`).join('');
  return h('figure', { class: 'chart', 'data-feature': series.feature, 'data-test': series.test },
    h('figcaption', {}, `${series.feature} · ${series.test}`),
    s('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
      'aria-label': `${series.feature} ${series.test} over ${points.length} windows` },
    s('line', { class: 'axis', x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }),
    s('text', { x: left - 4, y: top + 8, 'text-anchor': 'end' }, fmt(hi)),
    s('text', { x: left - 4, y: height - bottom, 'text-anchor': 'end' }, fmt(lo)),
    points.length ? s('text', { x: left, y: height - 4 }, when(points[0].window_start || points[0].run_id).slice(0, 10)) : '',
    threshold ? s('path', { class: 'threshold', d: threshold }) : '',
    s('path', { class: 'series', d: path }),
    points.map((p, i) => s('circle', { class: p.drifted ? 'point drifted' : 'point', cx: x(i),
      cy: y(p.value), r: 3 }, s('title', {}, `${when(p.window_start || '')} ${fmt(p.value)}` +
        (p.drifted ? ' (drift)' : ''))))));
}

export function driftListPage() {
  const root = h('section');
  async function render() {
    const tasks = (await api('GET', '/drift')).drift_tasks;
    root.replaceChildren(h('h1', {}, 'Monitoring'), tasks.length === 0
      ? h('p', {}, 'No drift_check task has reported yet.')
      : h('ul', { class: 'drift-tasks' }, tasks.map((t) => h('li', {}, h('a', {
        href: `#/drift/${enc(t.dag_id)}/${enc(t.task_id)}` }, `${t.dag_id} › ${t.task_id}`)))));
    return root;
  }
  return { render, every: 10000 };
}

export function driftPage(dagId, taskId) {
  const root = h('section');
  async function render() {
    const report = await api('GET', `/drift/${enc(dagId)}/${enc(taskId)}`);
    const latest = report.latest;
    const rows = latest.rows;
    const dataset = rows.find((r) => r.feature === 'dataset');
    const metrics = rows.filter((r) => r.feature === 'model');
    const features = rows.filter((r) => r.feature !== 'dataset' && r.feature !== 'model' &&
      r.test !== 'psi');
    const psi = Object.fromEntries(rows.filter((r) => r.test === 'psi').map((r) => [r.feature, r]));
    features.sort((a, b) => (b.drifted - a.drifted) || (severity(b) - severity(a)));
    const featureTable = h('table', { class: 'drift-report' }, h('thead', {}, h('tr', {},
      ['feature', 'test', 'value', 'threshold', 'drift', 'psi', 'baseline vs primary'].map((c) =>
        h('th', {}, c)))), h('tbody', {}, features.map((r) => h('tr', {
      class: r.drifted ? 'drifted' : null, 'data-feature': r.feature },
    h('td', {}, r.feature), h('td', {}, r.test), h('td', {}, fmt(r.value)),
    h('td', {}, fmt(r.threshold)), h('td', {}, r.drifted ? 'drift' : 'ok'),
    h('td', {}, psi[r.feature] ? fmt(psi[r.feature].value) : '–'),
    h('td', {}, histogram(latest.histograms[r.feature]))))));
    const metricTable = metrics.length === 0 ? '' : h('table', { class: 'drift-metrics' },
      h('thead', {}, h('tr', {}, ['metric', 'primary', 'baseline', 'change', 'alert'].map((c) =>
        h('th', {}, c)))), h('tbody', {}, metrics.map((m) => h('tr', {
        class: m.drifted ? 'drifted' : null },
      h('td', {}, m.test), h('td', {}, fmt(m.value)), h('td', {}, fmt(m.threshold)),
      h('td', {}, m.threshold ? `${(((m.value - m.threshold) / Math.abs(m.threshold)) * 100).toFixed(1)} %` : '–'),
      h('td', {}, m.drifted ? 'alert' : 'ok')))));
    const charts = report.series.filter((c) => c.feature !== 'dataset' || c.test === 'drift_share');
    root.replaceChildren(
      h('h1', {}, h('a', { href: '#/drift' }, 'Monitoring'), ' › ',
        h('a', { href: `#/dag/${enc(dagId)}` }, dagId), ' › ', taskId),
      h('p', { class: dataset && dataset.drifted ? 'summary drifted' : 'summary' },
        `Latest run ${latest.run_id}, window ${when(latest.window_start)} – ${when(latest.window_end)}: `,
        dataset ? `${(dataset.value * 100).toFixed(0)} % of features drifted` +
          (dataset.drifted ? ' (dataset drift)' : ' (no dataset drift)') : ''),
      h('h2', {}, 'Features'), featureTable,
      metrics.length ? h('h2', {}, 'Model quality') : '', metricTable,
      h('h2', {}, 'Over time'), h('div', { class: 'charts' }, charts.map(chart)));
    return root;
  }
  return { render, every: 15000 };
}

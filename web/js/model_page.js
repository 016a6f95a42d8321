// The model registry: every model with its aliases, and per model its versions (metrics, the run
// that trained each) and what each alias serves live: requests/s, p99 and error share over the
// last refresh, rows/s, and the histogram of predicted scores. Live figures are differences
// between two readings of /models/NAME/serving, as Prometheus' rate() takes them.
import { api, enc } from './api.js';
import { h, s, when } from './dom.js';

const EVERY = 2000;

function num(v, digits = 4) {
  return v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits);
}

export function modelListPage() {
  const root = h('section');
  async function render() {
    const models = (await api('GET', '/models?limit=100')).models;
    root.replaceChildren(h('h1', {}, 'Models'), models.length === 0
      ? h('p', {}, 'No model is registered yet: a train or register task adds one.')
      : h('table', { class: 'models' }, h('thead', {}, h('tr', {},
        ['model', 'versions', 'latest', 'aliases', 'updated'].map((c) => h('th', {}, c)))),
      h('tbody', {}, models.map((m) => h('tr', { 'data-model': m.name },
        h('td', {}, h('a', { href: `#/model/${enc(m.name)}` }, m.name)),
        h('td', {}, m.versions), h('td', {}, `v${m.latest_version}`),
        h('td', {}, Object.entries(m.aliases).map(([a, v]) => `${a} → v${v}`).join(', ') || '–'),
        h('td', {}, when(m.updated_at)))))));
    return root;
  }
  return { render, every: 10000 };
}

// Sums of a version's counters, and its histograms, at one reading.
function totals(served) {
  const requests = served.requests.reduce((n, r) => n + r.count, 0);
  const errors = served.requests.filter((r) => r.status >= 500).reduce((n, r) => n + r.count, 0);
  return { requests, errors, rows: served.rows, latency: served.latency_seconds,
    scores: served.scores };
}

// The q-quantile of the observations between two readings of a histogram, interpolated within
// its bucket as Prometheus' histogram_quantile does.
export function quantile(q, now, before) {
  const counts = now.counts.map((c, i) => c - ((before && before.counts[i]) || 0));
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (seen + counts[i] >= rank) {
      if (i >= now.bounds.length) return now.bounds[now.bounds.length - 1];
      const lower = i === 0 ? 0 : now.bounds[i - 1];
      return lower + (now.bounds[i] - lower) * ((rank - seen) / counts[i]);
    }
    seen += counts[i];
  }
  return now.bounds[now.bounds.length - 1];
}

function scoreHistogram(scores) {
  const width = 200, height = 48;
  const counts = scores.counts.length ? scores.counts.slice(0, scores.bounds.length) : [];
  const top = Math.max(...counts, 1);
  const w = width / Math.max(counts.length, 1);
  return s('svg', { class: 'histogram scores', width, height, viewBox: `0 0 ${width} ${height}`,
    role: 'img', 'aria-label': `scores of ${scores.count} rows in ${counts.length} bins of 0.1` },
  s('title', {}, counts.map((c, i) => `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}: ${c}`)
    .join('\n')),
  counts.map((c, i) => s('rect', { class: 'hist-primary', x: i * w + 1, y: height - (c / top) * height,
    width: w - 2, height: (c / top) * height })));
}

export function modelPage(name) {
  const root = h('section');
  let previous = null;  // { at: ms, byVersion: Map(version -> totals) }

  function live(version, now, at) {
    const before = previous && previous.byVersion.get(version);
    const seconds = previous ? (at - previous.at) / 1000 : 0;
    if (!now) return { rate: 0, p99: null, errorShare: null, rowRate: 0 };
    if (!before || seconds <= 0) return { rate: null, p99: null, errorShare: null, rowRate: null };
    const requests = now.requests - before.requests;
    return {
      rate: requests / seconds,
      p99: quantile(0.99, now.latency, before.latency),
      errorShare: requests > 0 ? (now.errors - before.errors) / requests : null,
      rowRate: (now.rows - before.rows) / seconds,
    };
  }

  async function render() {
    const [model, serving] = await Promise.all([api('GET', `/models/${enc(name)}`),
      api('GET', `/models/${enc(name)}/serving`)]);
    const at = Date.parse(serving.at);
    const byVersion = new Map(serving.versions.filter((v) => v.requests.length)
      .map((v) => [v.version, totals(v)]));
    const aliases = model.versions.flatMap((v) => v.aliases.map((a) => [a, v.version]));
    const metricNames = [...new Set(model.versions.flatMap((v) => Object.keys(v.metrics)))].sort();
    const aliasRows = aliases.map(([alias, version]) => {
      const now = byVersion.get(version);
      const figures = live(version, now, at);
      return h('tr', { 'data-alias': alias },
        h('td', {}, alias), h('td', {}, `v${version}`),
        h('td', { class: 'live-rate' }, figures.rate === null ? '…' : figures.rate.toFixed(1)),
        h('td', { class: 'live-p99' }, figures.p99 === null ? '–' : `${(figures.p99 * 1000).toFixed(2)} ms`),
        h('td', {}, figures.errorShare === null ? '–' : `${(figures.errorShare * 100).toFixed(1)} %`),
        h('td', {}, figures.rowRate === null ? '…' : figures.rowRate.toFixed(1)),
        h('td', { class: 'served-total' }, now ? now.requests : 0),
        h('td', {}, now ? scoreHistogram(now.scores) : '–'),
        h('td', {}, h('code', {}, `POST /models/${name}@${alias}/invocations`)));
    });
    previous = { at, byVersion };
    root.replaceChildren(
      h('h1', {}, h('a', { href: '#/models' }, 'Models'), ' › ', name),
      h('h2', {}, 'Aliases, served live'),
      aliases.length === 0 ? h('p', {}, 'No alias: versions are served at /models/NAME/VERSION.')
        : h('table', { class: 'serving' }, h('thead', {}, h('tr', {},
          ['alias', 'version', 'requests/s', 'p99', '5xx', 'rows/s', 'requests', 'scores',
            'endpoint'].map((c) => h('th', {}, c)))), h('tbody', {}, aliasRows)),
      h('p', { class: 'hint' }, `Figures over the last ${EVERY / 1000} s, from this server's ` +
        'counters since it started (Prometheus: conveyor_serving_*).'),
      h('h2', {}, 'Versions'),
      h('table', { class: 'versions' }, h('thead', {}, h('tr', {},
        ['version', 'aliases', ...metricNames, 'trained by', 'created', 'requests', 'log rows']
          .map((c) => h('th', {}, c)))),
      h('tbody', {}, model.versions.map((v) => {
        const served = serving.versions.find((x) => x.version === v.version);
        return h('tr', { 'data-version': v.version },
          h('td', {}, `v${v.version}`), h('td', {}, v.aliases.join(', ') || '–'),
          metricNames.map((m) => h('td', {}, num(v.metrics[m]))),
          h('td', {}, served && served.dag_id ? h('a', {
            href: `#/dag/${enc(served.dag_id)}/run/${enc(served.run_id)}` },
          `${served.dag_id} › ${served.task_id}`) : '–'),
          h('td', {}, when(v.created_at)),
          h('td', {}, served ? totals(served).requests : 0),
          h('td', {}, served ? `${served.log_rows}` + (served.log_dropped ? ` (${served.log_dropped} dropped)` : '') : 0));
      }))));
    return root;
  }
  return { render, every: EVERY };
}

// The DAG list: search, tag filter, paused toggle, schedule, next run, recent runs, broken files.
import { api, enc } from './api.js';
import { h, dot, when, errorBox } from './dom.js';

const PAGE = 25;
const state = { pattern: '', tag: '', offset: 0 };

function scheduleText(dag) {
  return dag.schedule_interval ? dag.schedule_interval.value : 'None';
}

async function recentRuns(dagId) {
  try {
    const data = await api('GET', `/dags/${enc(dagId)}/dagRuns?limit=5`);
    return data.dag_runs;
  } catch {
    return [];
  }
}

export function dagListPage() {
  let status = null;
  const search = h('input', { type: 'search', placeholder: 'search DAG ids', value: state.pattern,
    'aria-label': 'search', oninput: (e) => { state.pattern = e.target.value; state.offset = 0; } });
  const tag = h('input', { type: 'search', placeholder: 'tag', value: state.tag,
    'aria-label': 'tag', oninput: (e) => { state.tag = e.target.value; state.offset = 0; } });
  const body = h('div');
  const pager = h('span');
  const toolbar = h('div', { class: 'toolbar' }, search, tag,
    h('button', { onclick: () => { state.offset = Math.max(0, state.offset - PAGE); } }, '‹ prev'),
    h('button', { onclick: () => { state.offset += PAGE; } }, 'next ›'), pager);
  const root = h('section', {}, h('h1', {}, 'DAGs'), toolbar, body);

  async function togglePaused(dagId, paused) {
    try {
      await api('PATCH', `/dags/${enc(dagId)}`, { is_paused: paused });
      status = null;
    } catch (error) {
      status = error;
    }
    await render();
  }

  async function render() {
    let query = `?limit=${PAGE}&offset=${state.offset}`;
    if (state.pattern) query += `&dag_id_pattern=${enc(state.pattern)}`;
    if (state.tag) query += `&tags=${enc(state.tag)}`;
    const data = await api('GET', '/dags' + query);
    const runs = await Promise.all(data.dags.map((d) => recentRuns(d.dag_id)));
    pager.textContent = data.total_entries === 0 ? 'no DAGs' :
      `${state.offset + 1}–${Math.min(state.offset + PAGE, data.total_entries)} of ${data.total_entries}`;
    const banners = data.dags.filter((d) => d.has_import_errors).map((d) =>
      h('div', { class: 'banner', 'data-dag': d.dag_id }, `Broken DAG ${d.dag_id}: ${d.import_error}`));
    const rows = data.dags.map((d, i) => h('tr', { 'data-dag': d.dag_id },
      h('td', {}, h('input', { type: 'checkbox', class: 'unpaused', title: 'active (unpaused)',
        'aria-label': `${d.dag_id} active`, checked: !d.is_paused,
        onchange: (e) => togglePaused(d.dag_id, !e.target.checked) })),
      h('td', {}, h('a', { href: `#/dag/${enc(d.dag_id)}` }, d.dag_id)),
      h('td', {}, (d.tags || []).map((t) => h('span', { class: 'tag' }, t.name))),
      h('td', {}, scheduleText(d)),
      h('td', {}, when(d.next_dagrun)),
      h('td', { class: 'recent' }, runs[i].map((r) =>
        h('a', { href: `#/dag/${enc(d.dag_id)}/run/${enc(r.dag_run_id)}` },
          dot(r.state, `${r.dag_run_id}: ${r.state}`))))));
    body.replaceChildren(...banners, status ? errorBox(status) : '',
      h('table', { class: 'dags' },
        h('thead', {}, h('tr', {}, ['active', 'DAG', 'tags', 'schedule', 'next run', 'recent runs']
          .map((c) => h('th', {}, c)))),
        h('tbody', {}, rows)));
    return root;
  }
  return { render, every: 3000 };
}

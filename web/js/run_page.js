// A run: its state and a Gantt-like timeline of its tasks' latest tries.
import { api, enc } from './api.js';
import { h, dot, when } from './dom.js';

export function runPage(dagId, runId) {
  const root = h('section');
  async function render() {
    const base = `/dags/${enc(dagId)}/dagRuns/${enc(runId)}`;
    const [run, tis] = await Promise.all([api('GET', base), api('GET', base + '/taskInstances')]);
    const items = tis.task_instances;
    const times = items.flatMap((t) => [t.start_date, t.end_date]).filter(Boolean).map(Date.parse);
    const now = Date.now();
    const t0 = times.length ? Math.min(...times) : now;
    const t1 = Math.max(t0 + 1, ...times, ...items.filter((t) => t.state === 'running').map(() => now));
    const rows = items.map((t) => {
      const start = t.start_date ? Date.parse(t.start_date) : null;
      const end = t.end_date ? Date.parse(t.end_date) : now;
      const bar = h('div', { class: `gantt-bar state-${t.state || 'none'}`,
        title: `${t.task_id}: ${t.state || 'no state'} ${t.duration ? t.duration.toFixed(3) + ' s' : ''}` });
      if (start !== null) {
        // Sizes through the CSSOM: the Content-Security-Policy allows no inline style attributes.
        bar.style.marginLeft = `${((start - t0) / (t1 - t0)) * 100}%`;
        bar.style.width = `${Math.max(0.5, ((end - start) / (t1 - t0)) * 100)}%`;
      } else {
        bar.style.width = '0';
      }
      return h('tr', { 'data-task': t.task_id, 'data-state': t.state || 'none' },
        h('td', {}, h('a', { href: `#/dag/${enc(dagId)}/run/${enc(runId)}/task/${enc(t.task_id)}` },
          t.task_id)),
        h('td', {}, dot(t.state), t.state || 'no state'),
        h('td', {}, String(t.try_number)),
        h('td', { class: 'gantt' }, h('div', { class: 'gantt-row' }, bar)),
        h('td', { class: 'note' }, t.note || ''));
    });
    root.replaceChildren(
      h('h1', {}, h('a', { href: `#/dag/${enc(dagId)}` }, dagId), ' › ', runId),
      h('p', { class: 'run-state', 'data-state': run.state }, dot(run.state), `${run.state} · `,
        `logical date ${when(run.logical_date)} · started ${when(run.start_date)} · ended ${when(run.end_date)}`),
      h('p', {}, 'conf: ', h('code', {}, JSON.stringify(run.conf))),
      h('table', { class: 'tasks' },
        h('thead', {}, h('tr', {}, ['task', 'state', 'try', 'timeline', 'note'].map((c) => h('th', {}, c)))),
        h('tbody', {}, rows)));
    return root;
  }
  return { render, every: 1500 };
}

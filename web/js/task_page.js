// A task instance: its tries and the log of one, followed while the task runs.
import { api, enc } from './api.js';
import { h, dot, when } from './dom.js';

export function taskPage(dagId, runId, taskId) {
  const root = h('section');
  const chosen = { attempt: null };
  const log = h('pre', { class: 'log', 'aria-label': 'log' });
  async function render() {
    const base = `/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances/${enc(taskId)}`;
    const ti = await api('GET', base);
    const attempt = chosen.attempt || ti.try_number;
    const rows = ti.tries.map((t) => h('tr', { class: t.try_number === attempt ? 'chosen' : null },
      h('td', {}, h('a', { href: location.hash, onclick: (e) => {
        e.preventDefault(); chosen.attempt = t.try_number; render(); } }, `try ${t.try_number}`)),
      h('td', {}, dot(t.state), t.state), h('td', {}, when(t.start_date)),
      h('td', {}, when(t.end_date)), h('td', {}, t.note || '')));
    if (attempt > 0) {
      const text = await api('GET', `${base}/logs/${attempt}`);
      const follow = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.textContent = text.content;  // text, never markup
      if (follow) log.scrollTop = log.scrollHeight;
    } else {
      log.textContent = '(no try yet)';
    }
    root.replaceChildren(
      h('h1', {}, h('a', { href: `#/dag/${enc(dagId)}` }, dagId), ' › ',
        h('a', { href: `#/dag/${enc(dagId)}/run/${enc(runId)}` }, runId), ' › ', taskId),
      h('p', { class: 'ti-state', 'data-state': ti.state || 'none' }, dot(ti.state),
        `${ti.state || 'no state'} · try ${ti.try_number} of ${ti.max_tries} · ${ti.operator}` +
        (ti.external_executor_id
          ? ` · ${ti.external_executor_id.replace(/^slurm:/, 'Slurm job ')}` : ''),
        ti.cached_from ? h('span', { class: 'badge cached', title: `reused ${ti.cached_from}` },
          'cached') : ''),
      ti.note ? h('p', { class: 'ti-note' }, ti.note) : '',
      h('table', { class: 'tries' }, h('thead', {}, h('tr', {},
        ['try', 'state', 'started', 'ended', 'note'].map((c) => h('th', {}, c)))),
        h('tbody', {}, rows)),
      h('h2', {}, `Log of try ${attempt}`), log);
    return root;
  }
  return { render, every: 1000 };
}

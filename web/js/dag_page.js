// A DAG: the grid of recent runs × tasks, the graph coloured by a run, the source, the trigger form.
import { api, enc } from './api.js';
import { h, dot, when, errorBox } from './dom.js';
import { graphSvg } from './graph_view.js';
import { collapseGraph, groupState } from './task_groups.js';

const RUNS = 20;

function tabs(dagId, current) {
  return h('nav', { class: 'tabs' }, ['grid', 'graph', 'source', 'trigger'].map((t) =>
    h('a', { href: `#/dag/${enc(dagId)}/${t}`, class: t === current ? 'active' : null }, t)));
}

// The rows of the grid: each group's row (a toggle) then, unless it is collapsed, its tasks.
function gridRows(graph, collapsed) {
  const rows = [];
  const shown = new Set();
  for (const n of graph.nodes) {
    if (!n.group) {
      rows.push({ task: n.task_id });
    } else if (!shown.has(n.group)) {
      shown.add(n.group);
      const members = graph.nodes.filter((m) => m.group === n.group).map((m) => m.task_id);
      rows.push({ group: n.group, members });
      if (!collapsed.has(n.group)) members.forEach((m) => rows.push({ task: m, inGroup: true }));
    }
  }
  return rows;
}

async function grid(dagId, graph, collapsed, rerender) {
  const runs = (await api('GET', `/dags/${enc(dagId)}/dagRuns?limit=${RUNS}`)).dag_runs.reverse();
  const states = await Promise.all(runs.map((r) =>
    api('GET', `/dags/${enc(dagId)}/dagRuns/${enc(r.dag_run_id)}/taskInstances`)));
  const head = h('tr', {}, h('th', {}, 'task'), runs.map((r) => h('th', {},
    h('a', { href: `#/dag/${enc(dagId)}/run/${enc(r.dag_run_id)}`, title: r.dag_run_id },
      dot(r.state, `${r.dag_run_id}: ${r.state}`)))));
  const stateOf = (i, task) => {
    const ti = states[i].task_instances.find((t) => t.task_id === task);
    return ti ? ti.state : null;
  };
  const rows = gridRows(graph, collapsed).map((row) => {
    if (row.group) {
      const open = !collapsed.has(row.group);
      return h('tr', { class: 'group-row', 'data-group': row.group },
        h('td', {}, h('button', { class: 'group-toggle', 'aria-expanded': String(open),
          onclick: () => { open ? collapsed.add(row.group) : collapsed.delete(row.group); rerender(); } },
        `${open ? '▾' : '▸'} ${row.group}`)),
        runs.map((r, i) => {
          const state = groupState(row.members.map((m) => stateOf(i, m)));
          return h('td', { class: 'cell' }, h('span', { class: `group-cell state-${state}`,
            'data-run': r.dag_run_id, 'data-group': row.group, 'data-state': state,
            title: `group ${row.group} in ${r.dag_run_id}: ${state}` }));
        }));
    }
    return h('tr', { class: row.inGroup ? 'in-group' : null },
      h('td', {}, row.inGroup ? row.task.slice(row.task.indexOf('.') + 1) : row.task),
      runs.map((r, i) => {
        const state = stateOf(i, row.task);
        return h('td', { class: 'cell' }, h('a', {
          class: `state-${state || 'none'}`, 'data-run': r.dag_run_id, 'data-task': row.task,
          'data-state': state || 'none', title: `${row.task} in ${r.dag_run_id}: ${state || 'no state'}`,
          href: `#/dag/${enc(dagId)}/run/${enc(r.dag_run_id)}/task/${enc(row.task)}` }));
      }));
  });
  if (runs.length === 0) return h('p', {}, 'No runs yet.');
  return h('table', { class: 'grid' }, h('thead', {}, head), h('tbody', {}, rows));
}

// One button per group: collapse it to one node of the graph, or expand it.
function groupToggles(graph, collapsed, rerender) {
  if (!graph.groups || graph.groups.length === 0) return '';
  return h('p', { class: 'group-toggles' }, 'groups: ', graph.groups.map((g) => {
    const open = !collapsed.has(g.group_id);
    return h('button', { class: 'group-toggle', 'data-group': g.group_id,
      'aria-expanded': String(open), title: g.description || g.group_id,
      onclick: () => { open ? collapsed.add(g.group_id) : collapsed.delete(g.group_id); rerender(); } },
    `${open ? '▾' : '▸'} ${g.group_id}`);
  }));
}

function triggerForm(dagId, dag) {
  const conf = h('textarea', { id: 'conf', 'aria-label': 'conf' },
    JSON.stringify(dag.params || {}, null, 2));
  const runId = h('input', { id: 'run-id', placeholder: 'run id (optional)', 'aria-label': 'run id' });
  const noCache = h('input', { id: 'no-cache', type: 'checkbox' });
  const message = h('div');
  const submit = async (event) => {
    event.preventDefault();
    let parsed;
    try {
      parsed = JSON.parse(conf.value || '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new Error('conf must be a JSON object');
      }
    } catch (error) {
      message.replaceChildren(errorBox(new Error('Invalid conf: ' + error.message)));
      return;
    }
    try {
      const body = { conf: parsed };
      if (runId.value) body.dag_run_id = runId.value;
      if (noCache.checked) body.no_cache = true;
      const run = await api('POST', `/dags/${enc(dagId)}/dagRuns`, body);
      location.hash = `#/dag/${enc(dagId)}/run/${enc(run.dag_run_id)}`;
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  };
  return h('form', { onsubmit: submit }, h('p', {}, 'Conf (JSON object, overrides params):'),
    conf, h('p', {}, runId),
    h('p', {}, h('label', {}, noCache, ' run cached tasks again (bypass the cache)')),
    h('button', { type: 'submit', id: 'trigger' }, 'Trigger'), message);
}

export function dagPage(dagId, tab) {
  const root = h('section');
  const content = h('div');
  const selected = { run: null };
  const collapsed = { grid: new Set(), graph: null };  // the graph starts with groups collapsed
  let form = null;
  async function render() {
    const dag = await api('GET', `/dags/${enc(dagId)}`);
    const header = h('div', { class: 'toolbar' }, h('h1', {}, dag.dag_id),
      h('label', {}, h('input', { type: 'checkbox', class: 'unpaused', checked: !dag.is_paused,
        onchange: async (e) => { await api('PATCH', `/dags/${enc(dagId)}`,
          { is_paused: !e.target.checked }); } }), ' active'),
      h('span', {}, dag.description || ''),
      h('span', {}, 'schedule: ', dag.schedule_interval ? dag.schedule_interval.value : 'None'),
      h('span', {}, 'next run: ', when(dag.next_dagrun)));
    const banner = dag.has_import_errors ? h('div', { class: 'banner' }, dag.import_error) : '';
    if (tab === 'trigger') {
      form ||= triggerForm(dagId, dag);  // built once: what is typed survives refreshes
      content.replaceChildren(form);
    } else if (tab === 'source') {
      const source = await api('GET', `/dags/${enc(dagId)}/source`);  // JSON: { content, fileloc }
      content.replaceChildren(h('pre', { class: 'source' },
        typeof source === 'string' ? source : source.content));
    } else {
      const graph = await api('GET', `/dags/${enc(dagId)}/graph`);
      if (tab === 'graph') {
        const runs = (await api('GET', `/dags/${enc(dagId)}/dagRuns?limit=${RUNS}`)).dag_runs;
        const run = runs.find((r) => r.dag_run_id === selected.run) || runs[0];
        let states = {};
        if (run) {
          const tis = await api('GET', `/dags/${enc(dagId)}/dagRuns/${enc(run.dag_run_id)}/taskInstances`);
          for (const t of tis.task_instances) states[t.task_id] = t.state;
        }
        const chooser = h('select', { 'aria-label': 'run', onchange: (e) => {
          selected.run = e.target.value; render(); } },
          runs.map((r) => h('option', { value: r.dag_run_id, selected: run && r.dag_run_id === run.dag_run_id },
            `${r.dag_run_id} (${r.state})`)));
        collapsed.graph ||= new Set((graph.groups || []).map((g) => g.group_id));
        const shown = collapseGraph(graph, collapsed.graph);
        for (const n of shown.nodes) {
          if (n.isGroup) states[n.task_id] = groupState(n.members.map((m) => states[m]));
        }
        content.replaceChildren(runs.length ? chooser : h('p', {}, 'No runs yet.'),
          groupToggles(graph, collapsed.graph, render),
          graphSvg(shown, states, (task) => {
            const node = shown.nodes.find((n) => n.task_id === task);
            if (node && node.isGroup) {
              collapsed.graph.delete(task);
              render();
            } else if (run) {
              location.hash = `#/dag/${enc(dagId)}/run/${enc(run.dag_run_id)}/task/${enc(task)}`;
            }
          }));
      } else {
        content.replaceChildren(await grid(dagId, graph, collapsed.grid, render));
      }
    }
    root.replaceChildren(header, banner, tabs(dagId, tab), content);
    return root;
  }
  return { render, every: tab === 'source' || tab === 'trigger' ? 0 : 2000 };
}

// Task groups in the grid and the graph: a collapsed group stands for its tasks, with the state
// that sums theirs up (as Airflow's UI shows a TaskGroup).
const ORDER = ['failed', 'upstream_failed', 'up_for_retry', 'running', 'queued', 'scheduled',
  'none', 'skipped', 'success'];

// The state a group shows for its tasks' states: the first of ORDER that any has, except that
// a group is skipped or successful only when all its tasks are (skipped ones count as done).
export function groupState(states) {
  const present = new Set(states.map((st) => st || 'none'));
  if (present.size === 0) return 'none';
  if ([...present].every((st) => st === 'skipped')) return 'skipped';
  if ([...present].every((st) => st === 'success' || st === 'skipped')) return 'success';
  return ORDER.find((st) => present.has(st) && st !== 'success' && st !== 'skipped') || 'none';
}

// The graph with each collapsed group made one node, `{ group: true }`, whose edges are its
// tasks' edges with the world outside it.
export function collapseGraph(graph, collapsed) {
  const owner = new Map(graph.nodes.map((n) => [n.task_id,
    n.group && collapsed.has(n.group) ? n.group : n.task_id]));
  const nodes = [];
  const seen = new Set();
  for (const n of graph.nodes) {
    const id = owner.get(n.task_id);
    if (seen.has(id)) continue;
    seen.add(id);
    nodes.push(id === n.task_id ? n : { task_id: id, operator: 'group', group: id, isGroup: true,
      members: graph.nodes.filter((m) => m.group === id).map((m) => m.task_id) });
  }
  const edgeKeys = new Set();
  const edges = [];
  for (const e of graph.edges) {
    const source = owner.get(e.source);
    const target = owner.get(e.target);
    const key = `${source}\u0000${target}`;
    if (source === target || edgeKeys.has(key)) continue;
    edgeKeys.add(key);
    edges.push({ source, target });
  }
  return { ...graph, nodes, edges };
}

// A DAG as an SVG: tasks in layers by longest path from a root, edges as lines, coloured by the
// states of a run.
import { s } from './dom.js';

const W = 150, H = 34, GAP_X = 60, GAP_Y = 16;

export function graphSvg(graph, states, onClick) {
  const upstream = new Map(graph.nodes.map((n) => [n.task_id, []]));
  for (const e of graph.edges) upstream.get(e.target).push(e.source);
  const layer = new Map();
  const depth = (id, seen = new Set()) => {
    if (layer.has(id)) return layer.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const d = Math.max(-1, ...upstream.get(id).map((u) => depth(u, seen))) + 1;
    layer.set(id, d);
    return d;
  };
  graph.nodes.forEach((n) => depth(n.task_id));
  const columns = [];
  for (const n of graph.nodes) (columns[layer.get(n.task_id)] ||= []).push(n.task_id);
  const pos = new Map();
  columns.forEach((ids, x) => ids.forEach((id, y) => pos.set(id, [x * (W + GAP_X), y * (H + GAP_Y)])));
  const width = columns.length * (W + GAP_X);
  const height = Math.max(...columns.map((c) => c.length)) * (H + GAP_Y);
  const edges = graph.edges.map((e) => {
    const [x1, y1] = pos.get(e.source);
    const [x2, y2] = pos.get(e.target);
    return s('line', { x1: x1 + W, y1: y1 + H / 2, x2, y2: y2 + H / 2, stroke: '#8a96a3' });
  });
  const nodes = graph.nodes.map((n) => {
    const [x, y] = pos.get(n.task_id);
    const state = states[n.task_id] || 'none';
    return s('g', { class: n.isGroup ? 'node group' : 'node', 'data-task': n.task_id,
      'data-group': n.isGroup ? n.task_id : null, 'data-state': state,
      transform: `translate(${x},${y})`, onclick: () => onClick(n.task_id) },
      s('rect', { width: W, height: H, rx: 5, class: `state-${state}`, stroke: '#4b5563' }),
      s('text', { x: 8, y: 15 }, n.task_id),
      s('text', { x: 8, y: 28, fill: '#4b5563' }, n.isGroup
        ? `group of ${n.members.length} · ${state}` : `${n.operator} · ${state}`));
  });
  return s('svg', { width: Math.max(width, 200), height: Math.max(height, 60),
    viewBox: `0 0 ${Math.max(width, 200)} ${Math.max(height, 60)}`, role: 'img',
    'aria-label': 'task graph' }, ...edges, ...nodes);
}

// The pipeline as a left-to-right graph: warehouses in the first column, each stage one
// column right of its furthest upstream (longest path), rows ordered to keep edges short.
// A pure function of the specs: the page renders what it returns.

const compareNames = (a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export const CARD = { width: 240, height: 128, gapX: 72, gapY: 20 };

/** The edges into a stage: from its warehouses (direct) and its upstream stages. */
export function upstreamOf(stage) {
  const from = [];
  for (const request of stage.spec?.requestedFreight ?? []) {
    if (request.sources?.direct) from.push(`w:${request.origin?.name}`);
    for (const upstream of request.sources?.stages ?? []) from.push(`s:${upstream}`);
  }
  return from;
}

/**
 * Lays out warehouses and stages. Returns {nodes: Map(id → {id, kind, name, column, row,
 * x, y}), edges: [{from, to}], width, height}.
 */
export function layout(warehouses, stages) {
  const nodes = new Map();
  for (const w of warehouses) nodes.set(`w:${w.metadata.name}`, { id: `w:${w.metadata.name}`, kind: 'warehouse', name: w.metadata.name, column: 0 });
  const byName = new Map(stages.map((s) => [s.metadata.name, s]));
  const edges = [];
  for (const s of stages) {
    for (const from of upstreamOf(s)) {
      if (from.startsWith('w:') && !nodes.has(from)) {
        nodes.set(from, { id: from, kind: 'warehouse', name: from.slice(2), column: 0, missing: true });
      }
      if (from.startsWith('s:') && !byName.has(from.slice(2))) continue;
      edges.push({ from, to: `s:${s.metadata.name}` });
    }
  }
  const incoming = new Map();
  for (const e of edges) {
    if (!incoming.has(e.to)) incoming.set(e.to, []);
    incoming.get(e.to).push(e.from);
  }
  // Longest path from a warehouse; a cycle (refused at apply, but be safe) stops at depth.
  const column = new Map();
  const visiting = new Set();
  function depth(id) {
    if (id.startsWith('w:')) return 0;
    if (column.has(id)) return column.get(id);
    if (visiting.has(id)) return 1;
    visiting.add(id);
    let d = 1;
    for (const from of incoming.get(id) ?? []) d = Math.max(d, depth(from) + 1);
    visiting.delete(id);
    column.set(id, d);
    return d;
  }
  for (const s of stages) {
    const id = `s:${s.metadata.name}`;
    nodes.set(id, { id, kind: 'stage', name: s.metadata.name, column: depth(id) });
  }
  const columns = [];
  for (const node of nodes.values()) {
    (columns[node.column] ??= []).push(node);
  }
  for (const col of columns) col?.sort(compareNames);
  // One sweep left to right: order each column by the mean row of its upstreams.
  const row = new Map();
  columns.forEach((col, c) => {
    if (!col) return;
    if (c > 0) {
      const key = new Map();
      col.forEach((n, i) => {
        const ups = (incoming.get(n.id) ?? []).filter((u) => row.has(u));
        key.set(n.id, ups.length ? ups.reduce((sum, u) => sum + row.get(u), 0) / ups.length : i);
      });
      col.sort((a, b) => key.get(a.id) - key.get(b.id) || compareNames(a, b));
    }
    col.forEach((n, i) => row.set(n.id, i));
  });
  let rows = 0;
  columns.forEach((col, c) => {
    if (!col) return;
    rows = Math.max(rows, col.length);
    col.forEach((n, i) => {
      n.row = i;
      n.x = c * (CARD.width + CARD.gapX);
      n.y = i * (CARD.height + CARD.gapY);
    });
  });
  return {
    nodes,
    edges,
    width: columns.length * (CARD.width + CARD.gapX),
    height: rows * (CARD.height + CARD.gapY),
  };
}

/** SVG path data for an edge from the right side of one card to the left of another. */
export function edgePath(from, to) {
  const x1 = from.x + CARD.width;
  const y1 = from.y + CARD.height / 2;
  const x2 = to.x;
  const y2 = to.y + CARD.height / 2;
  const bend = Math.max(24, (x2 - x1) / 2);
  return `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`;
}

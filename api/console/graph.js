// A journey's definition drawn as SVG: a small layered layout (top to bottom) of the detail endpoint's steps
// and edges, with the current step and the path taken highlighted. No library: the graph is small.
const SVG = "http://www.w3.org/2000/svg";
const NODE_HEIGHT = 42;
const LAYER_GAP = 46;
const NODE_GAP = 28;
const MARGIN = 16;

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) if (value !== null && value !== undefined) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

// The Mermaid text names each step's type (`name<br/><small>TYPE</small>`) and the start; both are optional here.
function fromMermaid(text = "") {
  const types = {};
  for (const match of text.matchAll(/"([^"<]+)<br\/><small>([A-Z]+)<\/small>"/g)) types[match[1]] = match[2];
  const start = /start\(\( \)\) --> (\S+)/.exec(text);
  return { types, start: start ? start[1] : null };
}

function layers(names, edges, start) {
  const out = new Map(names.map((n) => [n, []]));
  for (const [from, to] of edges) if (out.has(from) && out.has(to)) out.get(from).push(to);
  const state = new Map();
  const back = new Set();
  const visit = (name) => {
    state.set(name, 1);
    for (const to of out.get(name)) {
      if (state.get(to) === 1) back.add(`${name}\u0000${to}`);
      else if (!state.has(to)) visit(to);
    }
    state.set(name, 2);
  };
  if (start && out.has(start)) visit(start);
  for (const name of names) if (!state.has(name)) visit(name);
  const forward = edges.filter(([f, t]) => out.has(f) && out.has(t) && !back.has(`${f}\u0000${t}`));
  const indegree = new Map(names.map((n) => [n, 0]));
  for (const [, to] of forward) indegree.set(to, indegree.get(to) + 1);
  const layer = new Map(names.map((n) => [n, 0]));
  const queue = names.filter((n) => indegree.get(n) === 0);
  while (queue.length) {
    const name = queue.shift();
    for (const [from, to] of forward) {
      if (from !== name) continue;
      layer.set(to, Math.max(layer.get(to), layer.get(name) + 1));
      indegree.set(to, indegree.get(to) - 1);
      if (indegree.get(to) === 0) queue.push(to);
    }
  }
  const rows = [];
  for (const name of names) (rows[layer.get(name)] ||= []).push(name);
  return { rows: rows.filter(Boolean), back, forward };
}

function widthOf(name, type) {
  return Math.max(96, 7.2 * Math.max(name.length, (type || "").length) + 28);
}

function place(rows, forward, types) {
  const position = new Map();
  const order = (row, index) => {
    // Barycenter of the predecessors already placed keeps edges short and mostly uncrossed.
    const score = (name) => {
      const xs = forward.filter(([, t]) => t === name).map(([f]) => position.get(f)).filter(Boolean).map((p) => p.x);
      return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.MAX_SAFE_INTEGER;
    };
    return index === 0 ? row : [...row].sort((a, b) => score(a) - score(b));
  };
  const widths = rows.map((row) => row.reduce((sum, n) => sum + widthOf(n, types[n]), 0) + NODE_GAP * (row.length - 1));
  const total = Math.max(...widths);
  rows.forEach((row, index) => {
    const sorted = order(row, index);
    let x = MARGIN + (total - widths[index]) / 2;
    for (const name of sorted) {
      const w = widthOf(name, types[name]);
      position.set(name, { x: x + w / 2, y: MARGIN + index * (NODE_HEIGHT + LAYER_GAP), w });
      x += w + NODE_GAP;
    }
  });
  return { position, width: total + 2 * MARGIN + 80, height: MARGIN * 2 + rows.length * (NODE_HEIGHT + LAYER_GAP) - LAYER_GAP };
}

function shape(type, w) {
  const h = NODE_HEIGHT;
  const x = -w / 2;
  if (type === "DECISION") return svg("polygon", { points: `${x},${h / 2} ${x + 14},0 ${-x - 14},0 ${-x},${h / 2} ${-x - 14},${h} ${x + 14},${h}` });
  if (type === "INPUT") return svg("polygon", { points: `${x + 10},0 ${-x},0 ${-x - 10},${h} ${x},${h}` });
  const rounded = type === "SUCCESS" || type === "FAIL" ? h / 2 : 5;
  return svg("rect", { x, y: 0, width: w, height: h, rx: rounded });
}

function edgePath(a, b, isBack) {
  if (isBack) {
    const x1 = a.x + a.w / 2;
    const x2 = b.x + b.w / 2;
    const y1 = a.y + NODE_HEIGHT / 2;
    const y2 = b.y + NODE_HEIGHT / 2;
    const bulge = Math.max(x1, x2) + 60;
    return { d: `M${x1},${y1} C${bulge},${y1} ${bulge},${y2} ${x2},${y2}`, mid: { x: bulge - 15, y: (y1 + y2) / 2 } };
  }
  const [x1, y1, x2, y2] = [a.x, a.y + NODE_HEIGHT, b.x, b.y];
  const dy = Math.max(20, (y2 - y1) / 2);
  return {
    d: `M${x1},${y1} C${x1},${y1 + dy} ${x2},${y2 - dy} ${x2},${y2}`,
    mid: { x: (x1 + x2) / 2, y: (y1 + y2) / 2 },
  };
}

export function drawGraph(graph) {
  const names = graph.steps || [];
  const edges = graph.edges || [];
  const { types, start } = fromMermaid(graph.mermaid);
  const path = graph.path || [];
  const current = new Set(graph.current || []);
  const visited = new Set(path);
  const taken = new Set(path.slice(1).map((to, i) => `${path[i]}\u0000${to}`));
  const { rows, back, forward } = layers(names, edges, start || path[0] || names[0]);
  const { position, width, height } = place(rows, forward, types);
  const root = svg("svg", {
    class: "graph",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": `journey graph, current step ${[...current].join(", ") || "none"}`,
  });
  const marker = (id) =>
    svg("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z" }));
  root.append(svg("defs", {}, marker("arrow"), marker("arrow-taken")));
  for (const [from, to, label] of edges) {
    const a = position.get(from);
    const b = position.get(to);
    if (!a || !b) continue;
    const key = `${from}\u0000${to}`;
    const { d, mid } = edgePath(a, b, back.has(key));
    const isTaken = taken.has(key);
    const group = svg("g", { class: `edge${isTaken ? " taken" : ""}`, "data-from": from, "data-to": to });
    group.append(svg("path", { d, "marker-end": `url(#${isTaken ? "arrow-taken" : "arrow"})` }));
    if (label) {
      const short = label.length > 26 ? `${label.slice(0, 25)}…` : label;
      group.append(svg("text", { x: mid.x, y: mid.y, "text-anchor": "middle" }, svg("title", {}, label), short));
    }
    root.append(group);
  }
  for (const name of names) {
    const p = position.get(name);
    const type = types[name];
    const classes = ["node", type ? type.toLowerCase() : "", visited.has(name) ? "visited" : "", current.has(name) ? "current" : ""];
    const group = svg("g", { class: classes.filter(Boolean).join(" "), "data-step": name, transform: `translate(${p.x},${p.y})` });
    group.append(svg("title", {}, `${name}${type ? ` (${type})` : ""}${current.has(name) ? ": current step" : ""}`));
    group.append(shape(type, p.w));
    group.append(svg("text", { x: 0, y: type ? 18 : 25, "text-anchor": "middle", class: "name" }, name));
    if (type) group.append(svg("text", { x: 0, y: 33, "text-anchor": "middle", class: "type" }, type.toLowerCase()));
    root.append(group);
  }
  return root;
}

// A journey's definition drawn as SVG: a small layered layout (top to bottom) of the detail endpoint's steps
// and edges, with the current step and the path taken highlighted. No library: the graph is small.
const SVG = "http://www.w3.org/2000/svg";
const NODE_HEIGHT = 42;
const LAYER_GAP = 58;
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

// Layers by longest path from the start (back edges of loops set aside), a chain of invisible "dummy" points
// for every edge that skips layers (so it runs between nodes, not through them), a few barycenter sweeps to
// order each layer, and x positions pulled towards neighbours without overlapping.
function layout(names, edges, start, types) {
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

  const forward = edges.filter(([f, t]) => out.has(f) && out.has(t) && f !== t && !back.has(`${f}\u0000${t}`));
  const layer = new Map(names.map((n) => [n, 0]));
  const indegree = new Map(names.map((n) => [n, 0]));
  for (const [, to] of forward) indegree.set(to, indegree.get(to) + 1);
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

  const nodes = new Map(names.map((n) => [n, { id: n, layer: layer.get(n), w: widthOf(n, types[n]), dummy: false }]));
  const links = []; // segments between adjacent layers
  const routes = new Map(); // forward edge key -> the node ids it passes through, ends included
  for (const [from, to, label] of forward) {
    const key = `${from}\u0000${to}`;
    if (routes.has(key)) continue;
    const route = [from];
    for (let l = layer.get(from) + 1; l < layer.get(to); l += 1) {
      const id = `${key}\u0000${l}`;
      // the first point is as wide as the edge's label, which sits beside it
      const w = l === layer.get(from) + 1 && label ? 5.6 * Math.min(label.length, 24) : 8;
      nodes.set(id, { id, layer: l, w, dummy: true });
      route.push(id);
    }
    route.push(to);
    route.slice(1).forEach((id, i) => links.push([route[i], id]));
    routes.set(key, route);
  }

  const rows = [];
  for (const node of nodes.values()) (rows[node.layer] ||= []).push(node.id);
  const preds = new Map([...nodes.keys()].map((id) => [id, []]));
  const succs = new Map([...nodes.keys()].map((id) => [id, []]));
  for (const [a, b] of links) {
    succs.get(a).push(b);
    preds.get(b).push(a);
  }
  const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
  const sweep = (range, neighbours) => {
    for (const l of range) {
      const index = new Map(rows[l + (neighbours === preds ? -1 : 1)].map((id, i) => [id, i]));
      const score = new Map(rows[l].map((id, i) => {
        const near = neighbours.get(id).map((n) => index.get(n));
        return [id, near.length ? mean(near) : i];
      }));
      rows[l].sort((a, b) => score.get(a) - score.get(b));
    }
  };
  const down = rows.map((_, l) => l).slice(1);
  const up = rows.map((_, l) => l).slice(0, -1).reverse();
  for (let i = 0; i < 4; i += 1) {
    sweep(down, preds);
    sweep(up, succs);
  }

  const x = new Map();
  const gap = (a, b) => (nodes.get(a).w + nodes.get(b).w) / 2 + (nodes.get(a).dummy || nodes.get(b).dummy ? 14 : NODE_GAP);
  for (const row of rows) {
    let at = 0;
    row.forEach((id, i) => {
      at += i ? gap(row[i - 1], id) : 0;
      x.set(id, at);
    });
  }
  // Each node wants the mean x of its neighbours; the mean of the leftmost and rightmost placements that keep
  // the layer's order and gaps is as close to that as the neighbours allow.
  const settle = (range, neighbours) => {
    for (const l of range) {
      const row = rows[l];
      const want = row.map((id) => (neighbours.get(id).length ? mean(neighbours.get(id).map((n) => x.get(n))) : x.get(id)));
      const left = [...want];
      for (let i = 1; i < row.length; i += 1) left[i] = Math.max(want[i], left[i - 1] + gap(row[i - 1], row[i]));
      const right = [...want];
      for (let i = row.length - 2; i >= 0; i -= 1) right[i] = Math.min(want[i], right[i + 1] - gap(row[i], row[i + 1]));
      row.forEach((id, i) => x.set(id, (left[i] + right[i]) / 2));
    }
  };
  for (let i = 0; i < 6; i += 1) {
    settle(down, preds);
    settle(up, succs);
  }
  const lefts = [...nodes.values()].map((n) => x.get(n.id) - n.w / 2);
  const rights = [...nodes.values()].map((n) => x.get(n.id) + n.w / 2);
  const shift = MARGIN - Math.min(...lefts);
  const position = new Map();
  for (const node of nodes.values()) {
    position.set(node.id, { x: x.get(node.id) + shift, y: MARGIN + node.layer * (NODE_HEIGHT + LAYER_GAP), w: node.w });
  }
  const width = Math.max(...rights) + shift + MARGIN;
  const height = MARGIN * 2 + rows.length * (NODE_HEIGHT + LAYER_GAP) - LAYER_GAP;
  return { position, routes, back, width, height };
}

function widthOf(name, type) {
  return Math.max(96, 7.2 * Math.max(name.length, (type || "").length) + 28);
}

function shape(type, w) {
  const h = NODE_HEIGHT;
  const x = -w / 2;
  if (type === "DECISION") return svg("polygon", { points: `${x},${h / 2} ${x + 14},0 ${-x - 14},0 ${-x},${h / 2} ${-x - 14},${h} ${x + 14},${h}` });
  if (type === "INPUT") return svg("polygon", { points: `${x + 10},0 ${-x},0 ${-x - 10},${h} ${x},${h}` });
  const rounded = type === "SUCCESS" || type === "FAIL" ? h / 2 : 5;
  return svg("rect", { x, y: 0, width: w, height: h, rx: rounded });
}

// A forward edge: curves between layers, straight through each dummy point's layer. Its label sits on the
// first curve, below the step it leaves (decisions' conditions read best there).
function forwardPath(route, position) {
  const points = route.map((id) => position.get(id));
  let d = `M${points[0].x},${points[0].y + NODE_HEIGHT}`;
  let label = null;
  for (let i = 1; i < points.length; i += 1) {
    const [a, b] = [points[i - 1], points[i]];
    const y1 = a.y + NODE_HEIGHT;
    const y2 = b.y;
    const dy = (y2 - y1) / 2;
    d += ` C${a.x},${y1 + dy} ${b.x},${y2 - dy} ${b.x},${y2}`;
    if (i === 1) {
      // most of the way down the curve, where a decision's branches have spread apart
      const t = 0.8;
      const [u, v] = [(1 - t) ** 3 + 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t ** 2 + t ** 3];
      label = { x: a.x * u + b.x * v, y: y1 + (y2 - y1) * (1.5 * t * (1 - t) + t ** 3) + 3 };
    }
    if (i < points.length - 1) d += ` L${b.x},${b.y + NODE_HEIGHT}`;
  }
  return { d, mid: label };
}

// A back edge (a loop): out of the right side of the later step, round the right of everything between.
function backPath(a, b, position, offset) {
  const [top, bottom] = [Math.min(a.y, b.y), Math.max(a.y, b.y)];
  const between = [...position.values()].filter((p) => p.y >= top && p.y <= bottom);
  const bulge = Math.max(...between.map((p) => p.x + p.w / 2)) + 24 + offset;
  const [y1, y2] = [a.y + NODE_HEIGHT / 2, b.y + NODE_HEIGHT / 2];
  return {
    d: `M${a.x + a.w / 2},${y1} C${bulge},${y1} ${bulge},${y2} ${b.x + b.w / 2},${y2}`,
    mid: { x: bulge - 6, y: (y1 + y2) / 2 },
    right: bulge + 20,
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
  const { position, routes, back, width, height } = layout(names, edges, start || path[0] || names[0], types);
  let right = width;
  const drawn = [];
  for (const [from, to, label] of edges) {
    const key = `${from}\u0000${to}`;
    if (!position.has(from) || !position.has(to)) continue;
    let line;
    if (back.has(key) || from === to) {
      line = backPath(position.get(from), position.get(to), position, 10 * drawn.filter((e) => e.back).length);
      right = Math.max(right, line.right);
    } else {
      line = forwardPath(routes.get(key), position);
    }
    drawn.push({ from, to, label, back: back.has(key) || from === to, ...line });
  }
  const root = svg("svg", {
    class: "graph",
    viewBox: `0 0 ${right} ${height}`,
    width: right,
    height,
    role: "img",
    "aria-label": `journey graph, current step ${[...current].join(", ") || "none"}`,
  });
  const marker = (id) =>
    svg("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z" }));
  root.append(svg("defs", {}, marker("arrow"), marker("arrow-taken")));
  const labels = svg("g", { class: "labels" });
  for (const edge of drawn) {
    const isTaken = taken.has(`${edge.from}\u0000${edge.to}`);
    const group = svg("g", { class: `edge${isTaken ? " taken" : ""}`, "data-from": edge.from, "data-to": edge.to });
    group.append(svg("path", { d: edge.d, "marker-end": `url(#${isTaken ? "arrow-taken" : "arrow"})` }));
    root.append(group);
    if (edge.label && edge.mid) {
      const short = edge.label.length > 24 ? `${edge.label.slice(0, 23)}…` : edge.label;
      labels.append(svg("text", { x: edge.mid.x, y: edge.mid.y, "text-anchor": "middle", class: isTaken ? "taken" : null },
        svg("title", {}, edge.label), short));
    }
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
  root.append(labels);
  return root;
}

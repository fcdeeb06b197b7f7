// A journey's definition drawn as SVG, laid out by dagre (a layered "Sugiyama" layout engine, vendored from
// npm: vendor/dagre.LICENSE.txt). Every box is sized from its text as the browser measures it, and edge
// labels are laid out as nodes of their own, so no label overlaps another or runs out of the drawing.
// A PARALLEL step forks into one box per branch, side by side, which join again before the next step.
import { Graph, layout } from "./vendor/dagre.esm.js";

const SVG = "http://www.w3.org/2000/svg";
const NODE_HEIGHT = 42;
const PAD_X = 16;
const JOIN = "\u0000join";

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) if (value !== null && value !== undefined) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

// Text widths as this browser draws them (the stylesheet's classes), measured once in a hidden SVG.
function measurer() {
  const probe = svg("svg", { class: "graph", width: 0, height: 0, style: "position:absolute;visibility:hidden" });
  document.body.append(probe);
  const group = svg("g", { class: "node" });
  const labels = svg("g", { class: "labels" });
  probe.append(group, labels);
  return {
    width(text, cls) {
      const node = svg("text", { class: cls }, text);
      (cls === "edge-label" ? labels : group).append(node);
      const box = node.getBBox();
      node.remove();
      return { w: Math.ceil(box.width), h: Math.ceil(box.height) };
    },
    done() { probe.remove(); },
  };
}

function shape(type, w) {
  const h = NODE_HEIGHT;
  const x = -w / 2;
  if (type === "DECISION") return svg("polygon", { points: `${x},${h / 2} ${x + 14},0 ${-x - 14},0 ${-x},${h / 2} ${-x - 14},${h} ${x + 14},${h}` });
  if (type === "INPUT") return svg("polygon", { points: `${x + 10},0 ${-x},0 ${-x - 10},${h} ${x},${h}` });
  const rounded = type === "SUCCESS" || type === "FAIL" ? h / 2 : 5;
  return svg("rect", { x, y: 0, width: w, height: h, rx: rounded });
}

function extraWidth(type) {
  return type === "DECISION" ? 28 : type === "INPUT" ? 20 : type === "SUCCESS" || type === "FAIL" ? 20 : 0;
}

// Boxes: steps, each PARALLEL step's branches and their join; edges with their labels' measured sizes.
function build(graph, measure) {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 46, edgesep: 14, marginx: 16, marginy: 16 });
  const types = graph.types || {};
  const boxes = new Map();
  const box = (id, lines, type, extra = {}) => {
    const sizes = lines.map(([text, cls]) => measure.width(text, cls));
    const w = Math.max(72, ...sizes.map((s) => s.w)) + 2 * PAD_X + extraWidth(type);
    boxes.set(id, { id, lines, type, ...extra });
    g.setNode(id, { width: w, height: extra.join ? 8 : NODE_HEIGHT });
  };
  for (const name of graph.steps || []) {
    const type = types[name];
    box(name, [[name, "name"], ...(type ? [[type.toLowerCase(), "type"]] : [])], type, { step: name });
  }
  const outgoing = (edges) => edges.filter(([from]) => from);
  const edges = [];
  for (const [name, branches] of Object.entries(graph.branches || {})) {
    const join = `${name}${JOIN}`;
    box(join, [], "JOIN", { join: true, step: name });
    for (const branch of branches) {
      const id = `${name}\u0000${branch.name}`;
      box(id, [[branch.name, "name"], [branch.worker, "type"]], "BRANCH", { step: name, branch: branch.name });
      edges.push([name, id, ""], [id, join, ""]);
    }
  }
  for (const [from, to, label] of outgoing(graph.edges || [])) {
    const source = graph.branches && graph.branches[from] ? `${from}${JOIN}` : from; // a parallel step moves on once joined
    if (g.hasNode(source) && g.hasNode(to)) edges.push([source, to, label, from]);
  }
  edges.forEach(([from, to, label], i) => {
    const size = label ? measure.width(label, "edge-label") : { w: 0, h: 0 };
    g.setEdge(from, to, { label, width: size.w + 8, height: label ? size.h + 4 : 0, labelpos: "c" }, `e${i}`);
  });
  return { g, boxes, edges };
}

function pathOf(points) {
  const [first, ...rest] = points;
  return `M${first.x},${first.y}` + rest.map((p) => ` L${p.x},${p.y}`).join("");
}

export function drawGraph(graph) {
  const measure = measurer();
  let built;
  try {
    built = build(graph, measure);
  } finally {
    measure.done();
  }
  const { g, boxes, edges } = built;
  layout(g);
  const { width, height } = g.graph();
  const path = graph.path || [];
  const current = new Set(graph.current || []);
  const visited = new Set(path);
  const waiting = new Set(graph.waiting || []);
  const taken = new Set(path.slice(1).map((to, i) => `${path[i]}\u0000${to}`));
  const root = svg("svg", {
    class: "graph",
    viewBox: `0 0 ${Math.ceil(width)} ${Math.ceil(height)}`,
    width: Math.ceil(width),
    height: Math.ceil(height),
    role: "img",
    "aria-label": `journey graph, current step ${[...current].join(", ") || "none"}`,
  });
  const marker = (id) =>
    svg("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      svg("path", { d: "M0,0 L10,5 L0,10 z" }));
  root.append(svg("defs", {}, marker("arrow"), marker("arrow-taken")));

  const labels = svg("g", { class: "labels" });
  g.edges().forEach((e) => {
    const edge = g.edge(e);
    const [from, to, , step] = edges[Number(e.name.slice(1))];
    const stepFrom = step || boxes.get(from).step;
    const stepTo = boxes.get(to).step;
    const isTaken = taken.has(`${stepFrom}\u0000${stepTo}`) || (stepFrom === stepTo && visited.has(stepFrom) && !current.has(stepFrom));
    const group = svg("g", { class: `edge${isTaken ? " taken" : ""}`, "data-from": stepFrom, "data-to": stepTo });
    group.append(svg("path", { d: pathOf(edge.points), "marker-end": boxes.get(to).join ? null : `url(#${isTaken ? "arrow-taken" : "arrow"})` }));
    root.append(group);
    if (edge.label) {
      labels.append(svg("rect", { class: "label-back", x: edge.x - edge.width / 2, y: edge.y - edge.height / 2, width: edge.width, height: edge.height, rx: 3 }));
      labels.append(svg("text", { class: `edge-label${isTaken ? " taken" : ""}`, x: edge.x, y: edge.y, "text-anchor": "middle", "dominant-baseline": "central" }, edge.label));
    }
  });

  for (const id of g.nodes()) {
    const node = g.node(id);
    const b = boxes.get(id);
    const x = node.x;
    const y = node.y - node.height / 2;
    if (b.join) {
      root.append(svg("rect", { class: "join", x: x - node.width / 2, y, width: node.width, height: node.height, rx: 2, "data-join": b.step }));
      continue;
    }
    const kind = b.branch ? "branch" : (b.type || "").toLowerCase();
    // a parallel step's branches still running are current; those that answered were visited
    const here = b.branch ? current.has(b.step) && waiting.has(`${b.step}/${b.branch}`) : current.has(b.step);
    const classes = ["node", kind, visited.has(b.step) ? "visited" : "", here ? "current" : ""];
    const attributes = { class: classes.filter(Boolean).join(" "), transform: `translate(${x},${y})` };
    if (b.branch) attributes["data-branch"] = `${b.step}/${b.branch}`;
    else attributes["data-step"] = b.step;
    const group = svg("g", attributes);
    group.append(svg("title", {}, `${b.branch ? `${b.step} / ${b.branch}` : b.step}${b.type ? ` (${b.type})` : ""}${here ? ": current step" : ""}`));
    group.append(shape(b.branch ? "TASK" : b.type, node.width));
    const [name, sub] = b.lines;
    group.append(svg("text", { x: 0, y: sub ? 18 : 25, "text-anchor": "middle", class: "name" }, name[0]));
    if (sub) group.append(svg("text", { x: 0, y: 33, "text-anchor": "middle", class: "type" }, sub[0]));
    root.append(group);
  }
  root.append(labels);
  return root;
}

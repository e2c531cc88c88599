// Lays a RunGraph out top to bottom with dagre (a maintained Sugiyama-style
// layered layout): fork branches and switch cases side by side, loop bodies
// kept together as compound clusters drawn as frames.
import dagre from "@dagrejs/dagre";
import type { GraphEdge, GraphNode, LoopFrame, RunGraph } from "./model.js";

export interface Point {
  x: number;
  y: number;
}

export interface PlacedNode extends GraphNode {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge extends GraphEdge {
  points: Point[];
  labelAt?: Point;
}

export interface PlacedFrame extends LoopFrame {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  frames: PlacedFrame[];
  width: number;
  height: number;
}

/** Space above a frame's contents for its title and iteration picker. */
export const FRAME_HEADER = 30;

/** Room for the name on the first line, the type and the status on the second. */
function size(node: GraphNode): { width: number; height: number } {
  if (node.kind === "start" || node.kind === "end") return { width: 72, height: 30 };
  if (node.kind === "dynamic") return { width: 240, height: 74 };
  const second = 6.2 * (node.sublabel.length + (node.taken !== undefined ? node.taken.length + 3 : 0)) + 6.5 * 12 + 36;
  return { width: Math.round(Math.min(300, Math.max(170, 7.8 * node.label.length + 34, second))), height: 50 };
}

function run(graph: RunGraph, compound: boolean): Layout {
  const g = new dagre.graphlib.Graph({ compound, multigraph: true });
  // dagre doubles the ranks of a graph with clusters (border nodes between them): halve the gap.
  g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: compound ? 26 : 36, edgesep: 14, marginx: 24, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const frame of graph.loops) if (compound) g.setNode(frame.id, { paddingTop: FRAME_HEADER });
  for (const frame of graph.loops) if (compound && frame.parent) g.setParent(frame.id, frame.parent);
  for (const node of graph.nodes) {
    g.setNode(node.id, size(node));
    if (compound && node.loop) g.setParent(node.id, node.loop);
  }
  const kind = new Map(graph.nodes.map((n) => [n.id, n.type]));
  graph.edges.forEach((edge, i) => {
    const label = edge.label ? { width: Math.min(140, 7 * edge.label.length + 14), height: 20, labelpos: "c" } : {};
    // Edges out of a fork or switch pull hardest, so every branch starts on the row below it.
    const fans = ["FORK_JOIN", "FORK_JOIN_DYNAMIC", "SWITCH", "DECISION"].includes(kind.get(edge.from) ?? "");
    g.setEdge(edge.from, edge.to, { ...label, minlen: edge.label ? 2 : 1, weight: fans ? 8 : 1 }, String(i));
  });
  dagre.layout(g);
  const nodes = graph.nodes.map((node) => {
    const placed = g.node(node.id);
    return { ...node, x: placed.x, y: placed.y, width: placed.width, height: placed.height };
  });
  const edges = graph.edges.map((edge, i) => {
    const placed = g.edge({ v: edge.from, w: edge.to, name: String(i) }) as { points: Point[]; x?: number; y?: number };
    return {
      ...edge,
      points: placed.points,
      ...(edge.label && placed.x !== undefined && placed.y !== undefined ? { labelAt: { x: placed.x, y: placed.y } } : {}),
    };
  });
  const frames = graph.loops.map((frame) => {
    if (compound) {
      const placed = g.node(frame.id);
      return { ...frame, x: placed.x, y: placed.y - FRAME_HEADER / 2, width: placed.width, height: placed.height + FRAME_HEADER };
    }
    // Without clusters: the frame is the box around its members.
    const members = nodes.filter((n) => n.loop === frame.id);
    const left = Math.min(...members.map((n) => n.x - n.width / 2)) - 16;
    const right = Math.max(...members.map((n) => n.x + n.width / 2)) + 16;
    const top = Math.min(...members.map((n) => n.y - n.height / 2)) - 16 - FRAME_HEADER;
    const bottom = Math.max(...members.map((n) => n.y + n.height / 2)) + 16;
    return { ...frame, x: (left + right) / 2, y: (top + bottom) / 2, width: right - left, height: bottom - top };
  });
  const info = g.graph();
  return { nodes, edges, frames, width: info.width ?? 0, height: info.height ?? 0 };
}

export function layout(graph: RunGraph): Layout {
  try {
    return run(graph, graph.loops.length > 0);
  } catch {
    // dagre's clusters can fail on some shapes; a plain layering still reads.
    return run(graph, false);
  }
}

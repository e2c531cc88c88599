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

function size(node: GraphNode): { width: number; height: number } {
  if (node.kind === "start" || node.kind === "end") return { width: 72, height: 30 };
  if (node.kind === "dynamic") return { width: 220, height: 74 };
  return { width: Math.min(260, Math.max(170, 8 * Math.max(node.label.length, node.sublabel.length) + 32)), height: 54 };
}

function run(graph: RunGraph, compound: boolean): Layout {
  const g = new dagre.graphlib.Graph({ compound, multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 28, ranksep: 46, edgesep: 14, marginx: 24, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const frame of graph.loops) if (compound) g.setNode(frame.id, { paddingTop: FRAME_HEADER });
  for (const frame of graph.loops) if (compound && frame.parent) g.setParent(frame.id, frame.parent);
  for (const node of graph.nodes) {
    g.setNode(node.id, size(node));
    if (compound && node.loop) g.setParent(node.id, node.loop);
  }
  graph.edges.forEach((edge, i) => {
    const label = edge.label ? { width: Math.min(140, 7 * edge.label.length + 14), height: 20, labelpos: "c" } : {};
    g.setEdge(edge.from, edge.to, { ...label, minlen: edge.label ? 2 : 1 }, String(i));
  });
  dagre.layout(g);
  const nodes = graph.nodes.map((node) => {
    const placed = g.node(node.id);
    return { ...node, x: placed.x, y: placed.y, width: placed.width, height: placed.height };
  });
  const edges = graph.edges.map((edge, i) => {
    const placed = g.edge({ v: edge.from, w: edge.to, name: String(i) }) as { points: Point[]; x?: number; y?: number };
    return { ...edge, points: placed.points, ...(edge.label && placed.x !== undefined && placed.y !== undefined ? { labelAt: { x: placed.x, y: placed.y } } : {}) };
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

/**
 * The key buffer's last minutes as a small SVG line chart: free keys (what the median node reports) against time,
 * with the scale written on it. Built with DOM calls, no chart library: one line and two axes.
 */
import type { BufferSample } from "./network-status.ts";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 600;
const HEIGHT = 180;
const PAD = { left: 44, right: 12, top: 14, bottom: 26 };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>, text?: string) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

const MINUTE = 60_000;

/**
 * Redraws `chart` with the samples of the last `maxWindowMs` before `now` — or of the time since the first sample, at
 * least a minute, while the server has not sampled that long — and returns a one-line summary for its caption.
 */
export function drawBufferChart(
  chart: SVGSVGElement,
  samples: BufferSample[],
  now: number,
  maxWindowMs: number,
): string {
  const known = samples.length > 0 ? now - samples[0]!.at : 0;
  const windowMs = Math.min(maxWindowMs, Math.max(MINUTE, Math.ceil(known / MINUTE) * MINUTE));
  const points = samples.filter((s): s is BufferSample & { free: number } => s.free !== null && s.at >= now - windowMs);
  const top = Math.max(10, ...points.map((p) => p.free));
  const x = (at: number) => PAD.left + ((at - (now - windowMs)) / windowMs) * (WIDTH - PAD.left - PAD.right);
  const y = (free: number) => HEIGHT - PAD.bottom - (free / top) * (HEIGHT - PAD.top - PAD.bottom);
  const minutes = Math.round(windowMs / MINUTE);
  const children: SVGElement[] = [
    svg("line", { x1: PAD.left, y1: y(0), x2: WIDTH - PAD.right, y2: y(0), class: "axis" }),
    svg("line", { x1: PAD.left, y1: y(top), x2: WIDTH - PAD.right, y2: y(top), class: "grid" }),
    svg("text", { x: PAD.left - 6, y: y(top) + 4, "text-anchor": "end", class: "tick" }, String(top)),
    svg("text", { x: PAD.left - 6, y: y(0) + 4, "text-anchor": "end", class: "tick" }, "0"),
    svg("text", { x: PAD.left, y: HEIGHT - 6, class: "tick" }, `${minutes} min ago`),
    svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 6, "text-anchor": "end", class: "tick" }, "now"),
  ];
  if (points.length > 0) {
    const line = points.map((p) => `${x(p.at).toFixed(1)},${y(p.free).toFixed(1)}`).join(" ");
    const first = points[0]!;
    const last = points[points.length - 1]!;
    children.push(
      svg("polygon", {
        points: `${x(first.at).toFixed(1)},${y(0)} ${line} ${x(last.at).toFixed(1)},${y(0)}`,
        class: "area",
      }),
      svg("polyline", { points: line, class: "line" }),
      svg("circle", { cx: x(last.at), cy: y(last.free), r: 3.5, class: "dot" }),
    );
  }
  chart.replaceChildren(...children);
  const span = minutes === 1 ? "minute" : `${minutes} minutes`;
  if (points.length === 0) return `No key-buffer samples in the last ${span} yet.`;
  const low = Math.min(...points.map((p) => p.free));
  const high = Math.max(...points.map((p) => p.free));
  return `Free keys over the last ${span}: between ${low} and ${high}, now ${points[points.length - 1]!.free}.`;
}

/**
 * The network status page for operators: reads `/api/status` from the UI server every few seconds (the server reads
 * the chain and the nodes' operator endpoints, which allow no other origin) and redraws the epoch, the handover,
 * the nodes and the key buffer's chart.
 */
import { byId, show } from "../shared/dom.ts";
import { drawBufferChart } from "./buffer-chart.ts";
import type { NetworkStatusView } from "./network-status.ts";
import { renderEpoch, renderHandover, renderNodes } from "./render.ts";

const REFRESH_MS = 3000;
const CHART_WINDOW_MS = 10 * 60_000;

const banner = byId("status-error");
const updated = byId("updated");

function fail(text: string): void {
  banner.textContent = text;
  show(banner, true);
}

function draw(view: NetworkStatusView): void {
  show(banner, view.error !== undefined);
  if (view.error) banner.textContent = `The network cannot be read: ${view.error}.`;
  if (view.epoch) {
    byId("epoch-title").textContent = `Epoch ${view.epoch.id}`;
    renderEpoch(byId("epoch"), view.epoch);
  }
  renderHandover(byId("handover"), view.handover);
  renderNodes(byId<HTMLTableSectionElement>("node-rows"), view.nodes, view.epoch?.id);
  const latest = view.history[view.history.length - 1];
  byId("buffer-now").textContent =
    latest?.free === null || latest === undefined
      ? "No node reports its keys."
      : `${latest.free} free keys, ${latest.assigned ?? "?"} assigned (the median node's figures).`;
  const chart = document.getElementById("buffer-chart") as SVGSVGElement | null;
  if (chart) byId("buffer-caption").textContent = drawBufferChart(chart, view.history, view.sampledAt, CHART_WINDOW_MS);
  const healthy = view.nodes.filter((node) => node.health === "serving").length;
  updated.textContent =
    `${healthy} of ${view.nodes.length} nodes healthy · read at ${new Date(view.sampledAt).toLocaleTimeString()} · ` +
    `this page refreshes every ${REFRESH_MS / 1000} s`;
}

async function refresh(): Promise<void> {
  let view: NetworkStatusView | undefined;
  try {
    const response = await fetch("/api/status", { cache: "no-store", signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    view = (await response.json()) as NetworkStatusView;
  } catch (error) {
    fail(`The UI server does not answer (${(error as Error).message}): is npm start still running?`);
  }
  try {
    if (view) draw(view);
  } catch (error) {
    fail(`This page could not show the status it read: ${(error as Error).message}.`);
  }
  setTimeout(() => void refresh(), REFRESH_MS);
}

void refresh();

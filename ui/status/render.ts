/** The status page's parts drawn from one `/api/status` answer: the epoch, a handover, and a row per node. */
import { el, shorten } from "../shared/dom.ts";
import type { EpochView, HandoverView, NodeView } from "./network-status.ts";

/** The epoch's facts, as definition-list entries. */
export function renderEpoch(list: HTMLElement, epoch: EpochView): void {
  const facts: [string, string | Node][] = [
    ["State on-chain", el("span", { class: `badge ${epoch.state === "Current" ? "ok" : "warn"}` }, epoch.state)],
    ["Nodes (n)", `${epoch.n} (${epoch.listed} listed)`],
    ["Reconstruction threshold (k)", String(epoch.k)],
    ["Faults tolerated (t)", String(epoch.t)],
  ];
  list.replaceChildren(...facts.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

export function renderHandover(box: HTMLElement, handover: HandoverView | undefined): void {
  box.hidden = handover === undefined;
  if (!handover) return box.replaceChildren();
  const { to, confirmed, needed } = handover;
  const meter = el("progress", { max: String(needed), value: String(Math.min(confirmed, needed)) });
  meter.setAttribute("aria-label", "handover confirmations");
  box.replaceChildren(
    el("h2", {}, `Handing over to epoch ${to.id}`),
    el(
      "p",
      {},
      `Attempt ${handover.attempt}: ${confirmed} of the ${needed} confirmations (n − t) that complete it are on-chain; ` +
        `the next epoch (n = ${to.n}, k = ${to.k}, t = ${to.t}) is ${to.state}, ${to.listed} of ${to.n} nodes listed.`,
    ),
    meter,
  );
}

const HEALTH_TEXT: Record<NodeView["health"], string> = {
  serving: "healthy",
  refusing: "refuses clients",
  down: "down",
};

/** One `node-row` per node, `data-healthy` "true" only for a node whose /healthz answered 200. */
export function renderNodes(body: HTMLTableSectionElement, nodes: NodeView[], currentEpoch: number | undefined) {
  body.replaceChildren(
    ...nodes.map((node) => {
      const healthy = node.health === "serving";
      const cell = (label: string, ...content: (Node | string | undefined)[]) =>
        el("td", { "data-label": label }, ...content);
      const keys = node.keys ? `${node.keys.generated} / ${node.keys.assigned} / ${node.keys.free}` : "—";
      const drain =
        node.keys?.minutesUntilEmpty !== undefined && node.keys.minutesUntilEmpty !== null
          ? el("span", { class: "sub" }, `empty in ≈ ${node.keys.minutesUntilEmpty} min at the current rate`)
          : undefined;
      return el(
        "tr",
        { "data-testid": "node-row", "data-healthy": String(healthy), "data-node-index": String(node.index) },
        el(
          "th",
          { scope: "row", "data-label": "Node" },
          `Node ${node.index}`,
          node.epoch !== currentEpoch ? el("span", { class: "sub" }, `next epoch ${node.epoch}`) : undefined,
        ),
        cell(
          "Health",
          el(
            "span",
            { class: `badge ${healthy ? "ok" : node.health === "refusing" ? "warn" : "bad"}` },
            HEALTH_TEXT[node.health],
          ),
          node.reason ? el("span", { class: "sub reason" }, node.reason) : undefined,
        ),
        cell("Address", el("code", { title: node.address }, shorten(node.address))),
        cell("Endpoint", el("code", {}, node.endpoint.replace(/^https?:\/\//, ""))),
        cell("BFT height", node.bftHeight === undefined ? "—" : String(node.bftHeight)),
        cell("Peers", node.peers === undefined ? "—" : String(node.peers)),
        cell("Keys", keys, drain),
      );
    }),
  );
}

/**
 * The per-node view of a login: one row per node, with its commitment (sent, signed, or why not) and its share
 * (revealed, received, or why not), updated as the SDK reports each step (`LoginOptions.onProgress`).
 */
import type { LoginProgress } from "@torus-threshold-network/sdk";

import { el } from "../shared/dom.ts";

type Tone = "pending" | "ok" | "bad" | "idle";

const COMMITMENT_STEPS: ReadonlySet<LoginProgress["step"]> = new Set(["committing", "signed", "not-signed"]);

interface Row {
  commit: HTMLTableCellElement;
  share: HTMLTableCellElement;
  tr: HTMLTableRowElement;
}

function setCell(cell: HTMLTableCellElement, tone: Tone, text: string): void {
  cell.className = `step ${tone}`;
  cell.textContent = text;
}

export class NodeProgress {
  readonly #rows: Row[] = [];

  /** Fills `body` with one row per node of the network, every step still to come. */
  constructor(body: HTMLTableSectionElement, nodes: readonly { index: number; endpoint: string }[]) {
    body.replaceChildren();
    for (const node of nodes) {
      const commit = el("td", {}, "—");
      const share = el("td", {}, "—");
      const host = new URL(node.endpoint).host;
      const name = el("th", { scope: "row" }, `Node ${node.index}`, el("span", { class: "host" }, host));
      const tr = el(
        "tr",
        { "data-testid": "node-progress", "data-node-index": String(node.index) },
        name,
        commit,
        share,
      );
      setCell(commit, "idle", "—");
      setCell(share, "idle", "—");
      body.append(tr);
      this.#rows.push({ commit, share, tr });
    }
  }

  update(event: LoginProgress): void {
    const row = this.#rows[event.node];
    if (!row) return;
    // For tests and for the curious: the row's last step of each phase, as the SDK named it.
    row.tr.dataset[COMMITMENT_STEPS.has(event.step) ? "commitment" : "share"] = event.step;
    switch (event.step) {
      case "committing":
        return setCell(row.commit, "pending", "commitment sent…");
      case "signed":
        return setCell(row.commit, "ok", "signed ✓");
      case "not-signed":
        return setCell(row.commit, "bad", `not signed: ${event.reason ?? "no reason given"}`);
      case "revealing":
        return setCell(row.share, "pending", "token revealed, waiting for the share…");
      case "share-received":
        return setCell(row.share, "ok", "share received ✓");
      case "no-share":
        return setCell(row.share, "bad", `no share: ${event.reason ?? "no reason given"}`);
    }
  }

  /** How many nodes signed the commitment and how many shares arrived, so far. */
  counts(): { signed: number; shares: number } {
    const count = (step: string, key: "commitment" | "share") =>
      this.#rows.filter((row) => row.tr.dataset[key] === step).length;
    return { signed: count("signed", "commitment"), shares: count("share-received", "share") };
  }

  /** After a login stopped before the reveal: the shares were never asked for. */
  notRevealed(): void {
    for (const row of this.#rows) {
      if (row.share.classList.contains("idle")) setCell(row.share, "idle", "not asked: the token was not revealed");
    }
  }
}

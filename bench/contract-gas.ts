/**
 * Gas used by the NodeList's lifecycle transactions, on Hardhat's in-process chain. Run: `npm run bench:gas`.
 * Prints one row per transaction kind and epoch size; listNode and confirmHandover are the calls every node pays for.
 */
import { Wallet, id, parseEther } from "ethers";
import type { ContractTransactionResponse } from "ethers";
import { network } from "hardhat";

import { publicKeyCoordinates } from "../node/chain/node-key.ts";
import { thresholdsFor } from "../node/chain/thresholds.ts";
import { NodeList__factory } from "../typechain-types/index.ts";

const { ethers, networkHelpers } = await network.getOrCreate();
const [governance] = await ethers.getSigners();
if (governance === undefined) throw new Error("no account");

const rows: [string, number, bigint][] = [];
const gasOf = async (label: string, n: number, tx: Promise<ContractTransactionResponse>) => {
  const receipt = await (await tx).wait();
  rows.push([label, n, receipt!.gasUsed]);
};

async function funded(count: number, salt: string) {
  const wallets = Array.from({ length: count }, (_, i) => new Wallet(id(`${salt}-${i}`), ethers.provider));
  for (const w of wallets) await networkHelpers.setBalance(w.address, parseEther("10"));
  return wallets;
}

for (const n of [5, 9]) {
  const nodeList = await new NodeList__factory(governance).deploy(governance.address);
  rows.push(["deploy", n, (await nodeList.deploymentTransaction()!.wait())!.gasUsed]);
  const { k, t } = thresholdsFor(n);
  // Records the gas of the genesis epoch's whitelisting and listing only (the successor's costs the same).
  const listAll = async (epoch: number, nodes: Wallet[]) => {
    const record = async (label: string, tx: Promise<ContractTransactionResponse>) =>
      epoch === 1 && label !== "" ? gasOf(label, n, tx) : (await tx).wait();
    await record(
      "whitelistNodes (all n)",
      nodeList.whitelistNodes(
        epoch,
        nodes.map((w) => w.address),
      ),
    );
    for (const [i, node] of nodes.entries()) {
      const { pubKx, pubKy } = publicKeyCoordinates(node);
      const tx = nodeList
        .connect(node)
        .listNode(epoch, `127.0.0.1:${7000 + i}`, pubKx, pubKy, "", `/ip4/127.0.0.1/tcp/${9000 + i}`);
      await record(
        i === 0 ? "listNode (first)" : i === nodes.length - 1 ? "listNode (last, epoch becomes Ready)" : "",
        tx,
      );
    }
  };
  const genesis = await funded(n, `gas-old-${n}`);
  await gasOf("createEpoch", n, nodeList.createEpoch(n, k, t));
  await listAll(1, genesis);
  await gasOf("activateEpoch", n, nodeList.activateEpoch(1));
  const successor = await funded(n, `gas-new-${n}`);
  await nodeList.createEpoch(n, k, t);
  await listAll(2, successor);
  await gasOf("startTransition", n, nodeList.startTransition(2));
  const confirm = (w: Wallet) => nodeList.connect(w).confirmHandover(2, id("mapping"), 1000, id("commitments"));
  await gasOf("confirmHandover (first)", n, confirm(successor[0]!));
  for (const w of successor.slice(1, n - t - 1)) await (await confirm(w)).wait();
  await gasOf("confirmHandover (n - t-th, completes)", n, confirm(successor[n - t - 1]!));
}

const width = Math.max(...rows.map(([label]) => label.length));
console.log(`${"transaction".padEnd(width)}  n  gas used`);
for (const [label, n, gas] of rows) console.log(`${label.padEnd(width)}  ${n}  ${gas.toLocaleString("en-US")}`);

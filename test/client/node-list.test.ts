/**
 * `networkFromNodeList`'s refusals, against a fake chain answering through `fetch` (its reading of a real NodeList is
 * checked against a devnet by test/client/package.e2e.test.ts): a wrong address, no current epoch, an epoch still
 * registering, and answers that do not decode, among them an array length no answer could hold.
 */
import { expect } from "chai";

import { NodeListError, networkFromNodeList } from "../../client/index.ts";

const NODE_LIST = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
const word = (value: bigint | number) => BigInt(value).toString(16).padStart(64, "0");

/** A chain whose `eth_call` answers come from `answer(data)` (hex without 0x); other methods answer plausibly. */
function fakeChain(answer: (data: string) => string): typeof fetch {
  return (_url, init) => {
    const request = JSON.parse(init?.body as string) as { id: number; method: string; params: { data: string }[] };
    const result =
      request.method === "eth_call"
        ? "0x" + answer(request.params[0]!.data.slice(2))
        : request.method === "eth_getBlockByNumber"
          ? { hash: "0x" + "ab".repeat(32) }
          : "0x1";
    return Promise.resolve(new Response(JSON.stringify({ jsonrpc: "2.0", id: request.id, result })));
  };
}

/** The refusal of `networkFromNodeList` on the fake chain. */
async function refusal(chain: typeof fetch, nodeList = NODE_LIST): Promise<NodeListError> {
  const error = await networkFromNodeList({ rpcUrl: "http://chain.example", nodeList }, { fetch: chain }).then(
    () => expect.fail("read a network from a chain that holds none"),
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(NodeListError);
  return error as NodeListError;
}

// Selectors of the calls the reader makes, as the ABI names them.
const CURRENT_EPOCH = "76671808";
const GET_EPOCH_INFO = "135022c2";

describe("networkFromNodeList refusals", function () {
  it("refuses an address that is not 20 bytes of hex before asking the chain", async function () {
    let asked = false;
    const error = await refusal(() => {
      asked = true;
      return Promise.resolve(new Response("{}"));
    }, "0x1234");
    expect(error.code).to.equal("CHAIN_READ_FAILED");
    expect(asked).to.equal(false);
  });

  it("says so when there is no contract at the address (empty answers)", async function () {
    const error = await refusal(fakeChain(() => ""));
    expect(error.code).to.equal("CHAIN_READ_FAILED");
    expect(error.message).to.match(/currentEpoch\(\) of 0x5fbd.*returned 0 bytes.*no NodeList there/);
  });

  it("refuses a NodeList with no current epoch", async function () {
    expect((await refusal(fakeChain(() => word(0)))).code).to.equal("NO_CURRENT_EPOCH");
  });

  it("refuses an epoch whose node list is not full yet", async function () {
    const chain = fakeChain((data) => {
      if (data.startsWith(CURRENT_EPOCH)) return word(2);
      // (id 2, n 5, k 3, t 1, address[] of 1 node, prev 1, next 0)
      if (data.startsWith(GET_EPOCH_INFO))
        return [2, 5, 3, 1, 7 * 32, 1, 0].map(word).join("") + word(1) + word(BigInt(NODE_LIST));
      return "";
    });
    const error = await refusal(chain);
    expect(error.code).to.equal("INCOMPLETE_EPOCH");
    expect(error.message).to.equal("epoch 2 lists 1 of its 5 nodes");
  });

  it("refuses an array length beyond the answer without allocating it", async function () {
    const chain = fakeChain((data) => {
      if (data.startsWith(CURRENT_EPOCH)) return word(1);
      return [1, 5, 3, 1, 7 * 32, 0, 0].map(word).join("") + word(2n ** 200n);
    });
    const error = await refusal(chain);
    expect(error.code).to.equal("CHAIN_READ_FAILED");
    expect(error.message).to.match(/getEpochInfo\(uint256\) of .* too few/);
  });

  it("refuses a chain that does not answer", async function () {
    const error = await refusal(() => Promise.reject(new TypeError("fetch failed")));
    expect(error.code).to.equal("CHAIN_READ_FAILED");
    expect(error.message).to.equal("eth_blockNumber at http://chain.example failed: fetch failed");
  });
});

import { expect } from "chai";

import { KeyAssignAuth, signKeyAssign } from "../../node/api/key-assign-auth.ts";
import { G } from "../../node/crypto/point.ts";

describe("KeyAssign signer check", function () {
  const signerKey = 0x5157n;
  const nodeKey = G.multiply(0x1234n);
  const otherNode = G.multiply(0x4321n);
  const request = { jsonrpc: "2.0", method: "KeyAssign", id: 10, params: { verifier: "dev", verifier_id: "a@b.c" } };
  const body = JSON.stringify(request);
  let clock: number;
  let auth: KeyAssignAuth;

  beforeEach(() => {
    clock = 1_800_000_000_000;
    auth = new KeyAssignAuth(G.multiply(signerKey), nodeKey, () => clock);
  });
  const fields = (overrides: { key?: bigint; node?: typeof nodeKey; body?: string; nonce?: string } = {}) =>
    signKeyAssign(
      overrides.key ?? signerKey,
      overrides.body ?? body,
      overrides.node ?? nodeKey,
      overrides.nonce ?? "n1",
      String(clock / 1000),
    );
  /** The body as torus.js sends it: the signer's fields merged into the top level. */
  const merged = (f: Record<string, string>) => {
    const parsed = { ...request, ...f };
    return [JSON.stringify(parsed), parsed] as const;
  };

  it("accepts the fields merged into the body, as torus.js sends them, once", function () {
    const [raw, parsed] = merged(fields());
    expect(auth.check(raw, parsed, {})).to.equal(undefined);
    expect(auth.check(raw, parsed, {})).to.equal("torus-signature was already used");
  });

  it("accepts the fields as headers over the raw body", function () {
    expect(auth.check(body, request, fields())).to.equal(undefined);
  });

  it("lets requests without KeyAssign through untouched", function () {
    const lookup = { ...request, method: "VerifierLookupRequest" };
    expect(auth.check(JSON.stringify(lookup), lookup, {})).to.equal(undefined);
  });

  it("refuses, with a reason, every request the signer did not authorise for this node now", function () {
    const cases: [string, () => string | undefined, RegExp][] = [
      ["no fields", () => auth.check(body, request, {}), /are required/],
      ["another signer", () => auth.check(...merged(fields({ key: 0x777n })), {}), /not the configured signer/],
      ["signed for another node", () => auth.check(...merged(fields({ node: otherNode })), {}), /for this node/],
      [
        "another user's request",
        () => {
          const other = { ...request, params: { verifier: "dev", verifier_id: "eve@b.c" } };
          const parsed = { ...other, ...fields() };
          return auth.check(JSON.stringify(parsed), parsed, {});
        },
        /not the configured signer/,
      ],
      [
        "stale",
        () => {
          const f = fields();
          clock += 61_000;
          return auth.check(...merged(f), {});
        },
        /60 s/,
      ],
      ["not base64", () => auth.check(...merged({ ...fields(), "torus-signature": "c2ln" }), {}), /65 bytes/],
      ["timestamp not a number", () => auth.check(...merged({ ...fields(), "torus-timestamp": "soon" }), {}), /unix/],
      [
        "batched",
        () => {
          const batch = [{ ...request, ...fields() }];
          return auth.check(JSON.stringify(batch), batch, {});
        },
        /batched/,
      ],
    ];
    for (const [name, run, reason] of cases) {
      clock = 1_800_000_000_000;
      expect(run(), name).to.match(reason);
    }
    // None of the refusals used up the good signature.
    clock = 1_800_000_000_000;
    expect(auth.check(...merged(fields()), {})).to.equal(undefined);
  });

  it("forgets used signatures once they are out of the window, and still refuses them as stale", function () {
    const [raw, parsed] = merged(fields());
    expect(auth.check(raw, parsed, {})).to.equal(undefined);
    clock += 120_000;
    expect(auth.check(raw, parsed, {})).to.match(/60 s/);
  });
});

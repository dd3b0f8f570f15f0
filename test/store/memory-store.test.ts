/** The in-memory engine passes the storage contract (test/store/storage-contract.ts). */
import { MemoryStore } from "../../node/store/memory-store.ts";
import { storageContract } from "./storage-contract.ts";

describe("the in-memory storage engine: the storage contract", function () {
  storageContract(() => Promise.resolve(new MemoryStore()));
});

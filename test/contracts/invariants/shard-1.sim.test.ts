import { defineInvariantSuite } from "./suite.ts";

await defineInvariantSuite(0);

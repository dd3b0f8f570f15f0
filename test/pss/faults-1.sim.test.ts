import { definePssFaultSuite } from "./sim-faults.ts";

definePssFaultSuite(0);

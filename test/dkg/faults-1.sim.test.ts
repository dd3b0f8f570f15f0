import { defineDkgFaultSuite } from "./sim-faults.ts";

defineDkgFaultSuite(0);

import { defineFaultSuite } from "./sim-faults.ts";

defineFaultSuite(0);

import { testDriver } from "./contract.ts";
import { memoryDriver } from "./memory.ts";

testDriver({ name: "memory", create: async () => ({ driver: memoryDriver() }) });

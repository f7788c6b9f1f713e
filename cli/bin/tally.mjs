#!/usr/bin/env node
// The CLI is TypeScript like the rest of the repository; tsx compiles it as it loads, so there is no build
// step to forget and `npx tally` runs the code as checked in.
import { register } from "tsx/esm/api";

register();
await import("../main.ts");

import { inflatePrefixSuite } from "../test/inflate-prefix-suite.ts";
import { fflateInflate } from "./codec.ts";

inflatePrefixSuite("fflate", fflateInflate);

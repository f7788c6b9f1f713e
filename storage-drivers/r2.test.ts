/**
 * The R2 driver against a real R2 binding: workerd's R2 implementation inside Miniflare, reached through
 * `getR2Bucket`. The contract's 2,600-key listing crosses R2's 1,000-key pages.
 */
import { Miniflare } from "miniflare";
import { expect, it } from "vitest";
import { testDriver } from "./contract.ts";
import { type R2BucketLike, r2Driver } from "./r2.ts";

let bucket: R2BucketLike;

testDriver({
  name: "r2 (miniflare)",
  create: async () => {
    const mf = new Miniflare({
      modules: true,
      script: "export default { fetch: () => new Response('') };",
      compatibilityDate: "2026-04-01",
      r2Buckets: ["BUCKET"],
    });
    bucket = (await mf.getR2Bucket("BUCKET")) as unknown as R2BucketLike;
    return { driver: r2Driver({ bucket }), cleanup: () => mf.dispose() };
  },
  // R2's namespace is flat; see r2.ts for why the driver does not police it.
  skip: ["a key is never both a value and a prefix"],
  additionalTests: (storage) => {
    it("stores key a:b:c as the R2 object a/b/c", async () => {
      await storage().setItemRaw("lay:out:k", Uint8Array.of(5));
      const listed = await bucket.list({ prefix: "lay/" });
      expect(listed.objects.map((o) => o.key)).toEqual(["lay/out/k"]);
    });
  },
});

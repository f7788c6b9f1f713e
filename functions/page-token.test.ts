import { describe, expect, it } from "vitest";
import { TallyError } from "../store/errors.ts";
import { PageTokens, queryScope } from "./page-token.ts";

const tokens = new PageTokens(new TextEncoder().encode("a test secret"));

async function refusal(scope: string, token: string): Promise<unknown> {
  return tokens.open(scope, token).then(
    () => undefined,
    (e: unknown) => e,
  );
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

describe("PageTokens", () => {
  it("opens what it signed, for the same scope only", async () => {
    const scope = await queryScope("acme", "ListEvents", "{}");
    const token = await tokens.sign(scope, { asOf: 1.5, cursor: { time: 7, id: "a\uFEFF" } });
    expect(await tokens.open(scope, token)).toEqual({ asOf: 1.5, cursor: { time: 7, id: "a\uFEFF" } });
    const other = await queryScope("umbrella", "ListEvents", "{}");
    expect(await refusal(other, token)).toMatchObject({ code: "invalid_argument" });
  });

  // Base64 of 16 bytes ends in a character whose low 4 bits are padding: a token with other padding
  // bits decodes to the same bytes. It is still an altered token, and the contract refuses those.
  it("refuses a token altered in any character, the padding bits of the last ones included", async () => {
    const scope = await queryScope("acme", "QueryGeo", "{}");
    for (let asOf = 1; asOf <= 6; asOf++) {
      const token = await tokens.sign(scope, { asOf, cursor: { n: asOf, y: 0, x: -1 } });
      for (let i = 0; i < token.length; i++) {
        if (token[i] === ".") continue;
        for (const c of B64) {
          if (c === token[i]) continue;
          const altered = token.slice(0, i) + c + token.slice(i + 1);
          const error = await refusal(scope, altered);
          expect(error, `${token} → ${altered}`).toBeInstanceOf(TallyError);
          expect((error as TallyError).message).toMatch(/^pageToken: /);
        }
      }
    }
  });
});

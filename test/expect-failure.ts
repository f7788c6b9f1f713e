/** For tests: the TallyError a promise rejects with (the test fails if it resolves or rejects otherwise). */
import { expect } from "vitest";
import { TallyError } from "../store/errors.ts";

export async function failure(p: Promise<unknown>): Promise<TallyError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TallyError);
  return error as TallyError;
}

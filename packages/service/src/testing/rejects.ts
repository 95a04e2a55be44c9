import assert from "node:assert/strict";

/**
 * Awaits a call of the test client that must fail with gRPC status `code` (a number of `Status`, any protocol the
 * client speaks); returns the error's details (the message the caller sees) for further assertions.
 */
export async function rejectsWith(promise: Promise<unknown>, code: number): Promise<string> {
  const error = (await promise.then(
    () => assert.fail("expected the call to fail"),
    (e: unknown) => e,
  )) as { code: number; details: string };
  assert.equal(error.code, code, error.details);
  return error.details;
}

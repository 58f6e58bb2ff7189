// A patch to serverless-offline 14 (node_modules/serverless-offline/src/events/http/HttpServer.js), applied by
// `npm install` (package.json postinstall) and checked again by every script that starts offline
// (scripts/start.ts, scripts/load/offline.ts), so an install with --ignore-scripts gets it too. It changes two
// things, both for HTTP events only:
//
// 1. A failed invocation (a Lambda timeout, a crashed or terminated worker) is answered with its 5xx status and
//    our error body `{ "error": { "code", "message" } }`. Unpatched, offline turns the error into a result
//    object ({ errorMessage, errorType, stackTrace }) and, for an HTTP API with payload 2.0, wraps any result
//    without a statusCode as a 200 body: a client was told "200" for a request that timed out. API Gateway
//    answers a failed Lambda with a 5xx.
// 2. With OFFLINE_MAX_INVOCATIONS set (scripts/start.ts sets it), at most that many HTTP invocations run at once
//    and the rest wait their turn, outside the Lambda timeout. Offline starts a worker thread per concurrent
//    request; each one's init (a 1.4 MB bundle to compile and evaluate) takes half a second of CPU, and a burst
//    of 50 cold requests on two cores starves every one of them past its 10 s timeout. On AWS each container
//    has its own CPU, so a container's init never waits on another's.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const FILE = path.resolve(import.meta.dirname, '../node_modules/serverless-offline/src/events/http/HttpServer.js');
const MARK = '// serverless-shop patch (scripts/offline-patch.ts)';

const PRELUDE = `${MARK}: the admission queue and the error response.
const shopMaxInvocations = Number(env.OFFLINE_MAX_INVOCATIONS) || Infinity
const shopWaiting = []
let shopRunning = 0
async function shopAdmit() {
  if (shopRunning >= shopMaxInvocations) await new Promise((admit) => shopWaiting.push(admit))
  else shopRunning++
  return () => {
    const next = shopWaiting.shift()
    if (next) next()
    else shopRunning--
  }
}
function shopErrorResult(statusCode, err) {
  const timeout = err instanceof Error && err.constructor.name === "LambdaTimeoutError"
  const error = timeout
    ? { code: "LAMBDA_TIMEOUT", message: "the function did not answer in time" }
    : { code: "LAMBDA_FAILED", message: "the function failed" }
  return { statusCode: Number(statusCode), headers: { "Content-Type": "application/json" }, body: stringify({ error }), isBase64Encoded: false }
}
`;

const EDITS: [original: string, patched: string][] = [
  ['const { assign, entries, keys } = Object\n', `const { assign, entries, keys } = Object\n\n${PRELUDE}`],
  [
    `      const lambdaFunction = this.#lambda.get(functionKey)

      lambdaFunction.setEvent(event)

      let result
      let err

      try {
        result = await lambdaFunction.runHandler()
      } catch (_err) {
        err = _err
      }
`,
    `      let result
      let err

      ${MARK}: waits for a turn.
      const shopRelease = await shopAdmit()
      try {
        const lambdaFunction = this.#lambda.get(functionKey)
        lambdaFunction.setEvent(event)
        result = await lambdaFunction.runHandler()
      } catch (_err) {
        err = _err
      } finally {
        shopRelease()
      }
`,
  ],
  [
    `        if (
          endpoint.isHttpApi &&
          endpoint.payload === "2.0" &&
          (typeof result === "string" || !result.statusCode)
        ) {`,
    `        ${MARK}: a failure is a 5xx.
        if (err && endpoint.isHttpApi) result = shopErrorResult(errorStatusCode, err)

        if (
          endpoint.isHttpApi &&
          endpoint.payload === "2.0" &&
          (typeof result === "string" || !result.statusCode)
        ) {`,
  ],
];

/** Patches offline's HttpServer.js unless it already is; fails when offline changed under the patch. */
export function patchOffline(): void {
  let source = readFileSync(FILE, 'utf8');
  if (source.includes(MARK)) return;
  for (const [original, patched] of EDITS) {
    if (!source.includes(original)) {
      throw new Error(`${FILE} does not hold what scripts/offline-patch.ts patches (a serverless-offline upgrade?): update the patch`);
    }
    source = source.replace(original, patched);
  }
  writeFileSync(FILE, source);
}

if (import.meta.main) patchOffline();

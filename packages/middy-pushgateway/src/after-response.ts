// Metrics stored after the response, before the freeze (docs/design.md, "After the response"). An invocation
// hands its push over instead of awaiting it, and the handler answers at once. The Node runtime waits for its next
// event off the JavaScript thread, so the push goes on running, and an internal extension holds the freeze:
// it asks Lambda for its next event only once the push of the invocation it was told about has settled.
import { registerInternalExtension, type InternalExtension } from './lambda-extension.ts';

/**
 * Starts `work` once the runtime has posted the response, so that none of it delays the answer. Lambda's Node
 * runtime client (aws-lambda-ric) posts the response from a setImmediate queued after the handler's promise
 * settled, behind one we queue from inside the handler: the second turn of the check phase comes after it.
 * test/exactness/after-response.test.ts checks, with the real client, that no store is sent before the answer.
 */
function afterTheResponse(work: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(() => void work().then(resolve))));
}

export interface FreezeGuard {
  /** Runs `work` (which never rejects) after the response; the sandbox is not frozen before it settles. */
  hold(requestId: string, work: () => Promise<void>): void;
}

/** What each invocation left running, by request id, whichever side (handler or extension) comes first. */
export function createHolds() {
  const byRequest = new Map<string, PromiseWithResolvers<void>>();
  let started = Promise.withResolvers<void>();
  const entry = (requestId: string): PromiseWithResolvers<void> => {
    let held = byRequest.get(requestId);
    if (!held) {
      held = Promise.withResolvers<void>();
      byRequest.set(requestId, held);
    }
    return held;
  };
  return {
    hold(requestId: string, work: () => Promise<void>): void {
      const held = entry(requestId);
      const run = afterTheResponse(() => {
        started.resolve();
        started = Promise.withResolvers<void>();
        return work();
      });
      void run.finally(held.resolve);
    },
    /** Resolves when the next held work starts, after its invocation's response. */
    nextStart: (): Promise<void> => started.promise,
    /**
     * Resolves once the request's work has settled, or at the invocation's deadline, when Lambda times it out
     * anyway: a push that hung (it is bounded, but a bug need not be) must not keep the extension for good.
     */
    async settled(requestId: string, deadlineMs: number): Promise<void> {
      const held = entry(requestId);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now()))));
      await Promise.race([held.promise, deadline]);
      clearTimeout(timer);
      byRequest.delete(requestId);
    },
  };
}

/**
 * Registers the internal extension and starts its loop; undefined (and the caller awaits its pushes) when Lambda
 * refuses it. Call it during init, from the handler module's top level: registration closes when the runtime
 * first asks for an invocation.
 */
export function guardFreezes(runtimeApi: string, onError: (message: string, err: unknown) => void): FreezeGuard | undefined {
  let extension: InternalExtension;
  try {
    extension = registerInternalExtension(runtimeApi, 'middy-pushgateway');
  } catch (err) {
    onError('metrics extension not registered: pushes are awaited before the response', err);
    return undefined;
  }
  const holds = createHolds();
  void (async () => {
    for (;;) {
      try {
        const event = await extension.next(holds.nextStart());
        await holds.settled(event.requestId, event.deadlineMs);
      } catch (err) {
        // Lambda answers event/next only with an event; a failure here is the Runtime API going away.
        onError('metrics extension: event/next failed', err);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  })();
  return { hold: holds.hold };
}

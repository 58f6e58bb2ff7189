import type { PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { config } from '../config.ts';
import { AppError } from '../errors.ts';

export class EventPublishError extends AppError {
  readonly code = 'EVENT_PUBLISH_FAILED';
}

export interface EventInput {
  source: string;
  detailType: string;
  detail: object;
}

/**
 * `timeoutMs` bounds the whole call, SDK retries included (the client's own bounds allow several seconds,
 * too long for a caller that can leave the event to the outbox relay).
 */
export async function publishEvent(
  { source, detailType, detail }: EventInput,
  { timeoutMs }: { timeoutMs?: number } = {},
): Promise<'published' | 'disabled'> {
  const busName = config.events.busName;
  // Local runs and tests have no bus; saying so lets callers tell "sent" from "skipped" without a config check.
  if (!busName) return 'disabled';

  // Serialised outside the try: a detail that cannot be turned into JSON is a bug in the caller, not an outage.
  const entry = { EventBusName: busName, Source: source, DetailType: detailType, Detail: JSON.stringify(detail) };
  // Loaded on first use: evaluating the SDK is a good part of a cold start, and without a bus it is never needed.
  const [{ PutEventsCommand }, { eventBridge }] = await Promise.all([import('@aws-sdk/client-eventbridge'), import('./clients.ts')]);
  let out: PutEventsCommandOutput;
  try {
    out = await eventBridge().send(new PutEventsCommand({ Entries: [entry] }), {
      abortSignal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw new EventPublishError('event publish failed', { source, detailType }, { cause: err });
  }
  // PutEvents reports per-entry failures (throttling, internal errors) in a 200 response, not as a throw.
  if ((out.FailedEntryCount ?? 0) > 0) {
    const failed = out.Entries?.find((e) => e.ErrorCode);
    throw new EventPublishError('event publish failed', {
      source,
      detailType,
      errorCode: failed?.ErrorCode,
      errorMessage: failed?.ErrorMessage,
    });
  }
  return 'published';
}

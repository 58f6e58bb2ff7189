-- Up Migration
-- The transactional outbox (lib/shop/outbox.ts): an event is inserted in the transaction of the change it
-- reports, so neither can exist without the other, and leaves for EventBridge from here, retried until the
-- bus accepts it.
CREATE TABLE event_outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source          text NOT NULL,
  detail_type     text NOT NULL,
  -- text, not jsonb: the event goes out exactly as it was written, key order included.
  detail          text NOT NULL,
  -- pending: to publish; published: accepted by the bus; skipped: no bus was configured (local runs).
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'published', 'skipped')),
  attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- An error name or code, never a message: SDK messages can quote ARNs and request data.
  last_error      text CHECK (char_length(last_error) <= 200),
  created_at      timestamptz NOT NULL DEFAULT now(),
  published_at    timestamptz
);
-- The relay's pick (pending rows, due first) and the backlog count read only this small partial index.
CREATE INDEX event_outbox_due_idx ON event_outbox (next_attempt_at, id) WHERE status = 'pending';

-- Down Migration
DROP TABLE event_outbox;

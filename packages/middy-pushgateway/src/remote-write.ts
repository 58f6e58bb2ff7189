// Prometheus remote write 1.0 (https://prometheus.io/docs/specs/remote_write_spec/): a WriteRequest of
// TimeSeries as protobuf, snappy-compressed in the BLOCK format (not the framed/stream one), POSTed with the
// protocol's headers. Used by the flusher (flusher.ts) to write the fleet's summed series straight into
// Prometheus, Mimir, Thanos Receive or any other receiver of the protocol.
//
// Dependencies, both pure JavaScript (the bundles run on Lambda arm64, where a native addon such as `snappy`
// would need a matching prebuilt binary in every bundle):
// - @bufbuild/protobuf (Apache-2.0; Buf's Protobuf-ES, conformance-tested, no dependencies): only its wire
//   module's BinaryWriter, which encodes tags, varints, doubles, int64 and UTF-8 strings. The four messages
//   of remote write 1.0 (WriteRequest, TimeSeries, Label, Sample; prompb/types.proto, remote.proto) are
//   written field by field below, without generated code: field numbers and wire types are the proto's.
// - snappyjs (MIT; the pure-JavaScript port of Google's Snappy): `compress` writes the block format (the
//   uncompressed length as a varint, then the compressed elements), which is what Go's snappy.Decode, and so
//   every Prometheus receiver, reads.
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { compress } from 'snappyjs';
import { authHeaders, clientFor, type GatewayAuth } from './gateway.ts';

export type Labels = Record<string, string>;

export interface Sample {
  value: number;
  /** Milliseconds since the Unix epoch. */
  timestamp: number;
}

export interface WriteSeries {
  /** Every label of the series, `__name__` included. */
  labels: Labels;
  samples: Sample[];
}

/**
 * Labels as the spec wants them: sorted by name (byte order: `__name__` comes first among the lower-case
 * names, which are all a metric of ours has), no empty values (Prometheus treats a label with an empty value
 * as absent, and an absent one is what it would compare with).
 */
export function sortedLabels(labels: Labels): [string, string][] {
  return Object.entries(labels)
    .filter(([, value]) => value !== '')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The protobuf of a WriteRequest:
 *   WriteRequest { repeated TimeSeries timeseries = 1; }   (field 3, metadata, is not sent)
 *   TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label        { string name = 1; string value = 2; }
 *   Sample       { double value = 1; int64 timestamp = 2; }
 */
export function encodeWriteRequest(series: Iterable<WriteSeries>): Uint8Array {
  const w = new BinaryWriter();
  for (const s of series) {
    w.tag(1, WireType.LengthDelimited).fork();
    for (const [name, value] of sortedLabels(s.labels)) {
      w.tag(1, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(name);
      w.tag(2, WireType.LengthDelimited).string(value);
      w.join();
    }
    for (const sample of s.samples) {
      if (!Number.isSafeInteger(sample.timestamp)) throw new RangeError(`remote write: timestamp ${sample.timestamp} is not an integer of milliseconds`);
      w.tag(2, WireType.LengthDelimited).fork();
      w.tag(1, WireType.Bit64).double(sample.value);
      w.tag(2, WireType.Varint).int64(sample.timestamp);
      w.join();
    }
    w.join();
  }
  return w.finish();
}

/** The body of a remote write POST: the WriteRequest, snappy block-compressed. */
export function writeRequestBody(series: Iterable<WriteSeries>): Buffer {
  const encoded = encodeWriteRequest(series);
  // A Buffer in, a Buffer out (snappyjs answers in the type it was given).
  return compress(Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength));
}

export type RemoteWriteAuth = GatewayAuth | { bearerToken: string };

export interface RemoteWriteOptions {
  /** Basic auth or a bearer token. */
  auth?: RemoteWriteAuth;
  /** Mimir, Cortex, Loki and Thanos Receive take their tenant from this header. */
  tenant?: string;
  /** Any other headers (they override the protocol's own). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A write that failed. `retryable`: the spec's rule, a 5xx or a 429 (and no answer at all) may be sent again. */
export class RemoteWriteError extends Error {
  readonly status: number | undefined;
  readonly retryable: boolean;
  constructor(message: string, status: number | undefined, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.retryable = status === undefined || status === 429 || status >= 500;
  }
}

export function remoteWriteHeaders(options: Omit<RemoteWriteOptions, 'signal'> = {}): Record<string, string> {
  const auth = options.auth;
  return {
    'Content-Encoding': 'snappy',
    'Content-Type': 'application/x-protobuf',
    'X-Prometheus-Remote-Write-Version': '0.1.0',
    'User-Agent': 'middy-pushgateway-flusher',
    ...(auth && 'bearerToken' in auth ? { Authorization: `Bearer ${auth.bearerToken}` } : authHeaders(auth)),
    ...(options.tenant ? { 'X-Scope-OrgID': options.tenant } : {}),
    ...options.headers,
  };
}

// Enough of a refusal's answer to say why (Prometheus names the series and the error).
const ERROR_BODY_CHARS = 300;

/**
 * POSTs one already compressed body (see `writeRequestBody`) to a remote write endpoint; resolves on 2xx,
 * throws a RemoteWriteError otherwise. node:http rather than fetch, as for the gateway (gateway.ts).
 */
export function postWriteRequest(url: string | URL, body: Uint8Array, options: RemoteWriteOptions = {}): Promise<void> {
  const target = new URL(url);
  // Sockets kept alive between flushes of a long-lived flusher (the gateway client's agents).
  const { client, agent } = clientFor(target);
  const headers = { ...remoteWriteHeaders(options), 'Content-Length': String(body.byteLength) };
  return new Promise((resolve, reject) => {
    const request = client.request(target, { method: 'POST', headers, agent, signal: options.signal }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (err) => reject(new RemoteWriteError(`remote write: ${err.message}`, undefined, { cause: err })));
      response.on('end', () => {
        const status = response.statusCode ?? 0;
        if (status >= 200 && status <= 299) return resolve();
        const said = Buffer.concat(chunks).toString('utf8').trim().slice(0, ERROR_BODY_CHARS);
        reject(new RemoteWriteError(`remote write answered ${status}${said ? `: ${said}` : ''}`, status));
      });
    });
    request.on('error', (err) => reject(new RemoteWriteError(`remote write: ${err.message}`, undefined, { cause: err })));
    request.end(body);
  });
}

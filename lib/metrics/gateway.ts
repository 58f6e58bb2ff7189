// Addressing the Pushgateway: group URLs and credentials, shared by the pusher, the janitor and the collector.
export const JOB = 'serverless-shop';

export interface GatewayAuth {
  username: string;
  password: string;
}

/** `/metrics/job/<job>/function/<fn>/instance/<instance>`, with `@base64` for values holding a slash. */
export function groupUrl(gatewayUrl: string, fn: string, instance: string, job = JOB): string {
  const part = (value: string) =>
    value.includes('/') ? `${Buffer.from(value).toString('base64url')}@base64` : encodeURIComponent(value);
  return new URL(`/metrics/job/${part(job)}/function/${part(fn)}/instance/${part(instance)}`, gatewayUrl).href;
}

export function authHeaders(auth: GatewayAuth | undefined): Record<string, string> {
  return auth ? { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` } : {};
}

export const TEXT_FORMAT = 'text/plain; version=0.0.4; charset=utf-8';

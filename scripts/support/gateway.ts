// Reading a Pushgateway the way the tests and the load run need: totals of a family over every group of one function.
export interface GatewayGroup {
  labels: Record<string, string>;
  [family: string]: unknown;
}

export async function gatewayGroups(gatewayUrl: string, functionName?: string): Promise<GatewayGroup[]> {
  const response = await fetch(new URL('/api/v1/metrics', gatewayUrl));
  const body = (await response.json()) as { data: GatewayGroup[] };
  return body.data.filter((g) => functionName === undefined || g.labels.function === functionName);
}

export function familyTotal(groups: GatewayGroup[], family: string): number {
  let total = 0;
  for (const group of groups) {
    const f = group[family] as { metrics: { value?: string; count?: string }[] } | undefined;
    for (const m of f?.metrics ?? []) total += Number(m.value ?? m.count ?? 0);
  }
  return total;
}

export async function clearGateway(gatewayUrl: string): Promise<void> {
  await fetch(new URL('/api/v1/admin/wipe', gatewayUrl), { method: 'PUT' });
}

// Bench-only stand-in for lib/metrics/business.ts.
export const business = {
  orderCreated(_order: { status: string; totalCents: number; currency: string }): void {},
  orderStatusChanged(_from: string, _to: string): void {},
  productViewed(_category: string): void {},
  userRegistered(): void {},
  loginAttempted(_result: 'success' | 'failure'): void {},
};

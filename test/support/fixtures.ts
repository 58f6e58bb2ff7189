// Domain-level fixtures for integration tests: every test makes its own rows, so tests share one database
// without depending on each other or on the seed.
import { createProduct, type Product } from '../../lib/shop/products.ts';
import { register } from '../../lib/shop/users.ts';
import type { Principal } from '../../lib/auth/tokens.ts';

let counter = 0;
export const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${++counter}`;

export function newSku(): string {
  return unique('T').toUpperCase().replace(/[^A-Z0-9-]/g, '-').slice(0, 40);
}

export async function aProduct(overrides: Partial<Parameters<typeof createProduct>[0]> = {}): Promise<Product> {
  return createProduct({
    sku: newSku(),
    name: 'Fixture product',
    description: '',
    category: 'fixtures',
    priceCents: 1000,
    currency: 'EUR',
    stock: 10,
    ...overrides,
  });
}

export async function aCustomer(): Promise<Principal & { email: string }> {
  const email = `${unique('customer')}@example.com`;
  const { user } = await register({ email, password: 'correct-horse', name: 'Fixture Customer' });
  return { userId: user.id, role: user.role, email };
}

export const admin: Principal = { userId: 1, role: 'admin' };

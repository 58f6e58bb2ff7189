import { afterAll, describe, expect, it } from 'vitest';
import { createProduct, deleteProduct, listProducts, updateProduct, viewProduct } from '../../../../lib/shop/products.ts';
import { closePool } from '../../../../lib/db/pool.ts';
import { NotFoundError, SkuTakenError } from '../../../../lib/shop/errors.ts';
import { aProduct, newSku, unique } from '../../../support/fixtures.ts';

afterAll(closePool);

const query = (overrides: Partial<Parameters<typeof listProducts>[0]> = {}) => ({
  limit: 20,
  offset: 0,
  sort: 'id' as const,
  ...overrides,
});

describe('the catalogue', () => {
  it('filters by category and pages with a total', async () => {
    const category = unique('cat').toLowerCase().slice(0, 40);
    for (let n = 0; n < 3; n++) await aProduct({ category, priceCents: 100 * (n + 1) });

    const page = await listProducts(query({ category, limit: 2, sort: '-price' }));

    expect(page.value.total).toBe(3);
    expect(page.value.items.map((p) => p.priceCents)).toEqual([300, 200]);
    expect((await listProducts(query({ category, limit: 2, offset: 2, sort: '-price' }))).value.items).toHaveLength(1);
  });

  it('searches names literally: % and _ are characters, not wildcards', async () => {
    const tag = unique('tag');
    const literal = await aProduct({ name: `${tag} 100% wool` });
    await aProduct({ name: `${tag} 100 wool` });
    const found = await listProducts(query({ q: `${tag} 100%` }));
    expect(found.value.items.map((p) => p.id)).toEqual([literal.id]);
  });

  it('treats SQL in the search text as text', async () => {
    const result = await listProducts(query({ q: "'; DROP TABLE products; --" }));
    expect(result.value.total).toBe(0);
    expect((await listProducts(query({ limit: 1 }))).value.total).toBeGreaterThan(0);
  });

  it('serves a list from the cache until a write invalidates it', async () => {
    const category = unique('cached').toLowerCase().slice(0, 40);
    const product = await aProduct({ category, stock: 3 });
    expect((await listProducts(query({ category }))).cache).toBe('MISS');
    expect((await listProducts(query({ category }))).cache).toBe('HIT');

    await updateProduct(product.id, { stock: 42 });

    const after = await listProducts(query({ category }));
    expect(after.cache).toBe('MISS');
    expect(after.value.items[0]!.stock).toBe(42);
  });

  it('records a view on every product read, cached or not', async () => {
    const product = await aProduct();
    expect((await viewProduct(product.id)).cache).toBe('MISS');
    expect((await viewProduct(product.id)).cache).toBe('HIT');
  });

  it('refuses a second product with the same sku', async () => {
    const sku = newSku();
    await aProduct({ sku });
    await expect(aProduct({ sku })).rejects.toBeInstanceOf(SkuTakenError);
  });

  it('updates only the given fields', async () => {
    const product = await aProduct({ name: 'Before', priceCents: 500 });
    const updated = await updateProduct(product.id, { priceCents: 750 });
    expect(updated).toEqual(expect.objectContaining({ name: 'Before', priceCents: 750 }));
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(product.updatedAt));
  });

  it('hides a deleted product from reads and lists, and refuses to delete it twice', async () => {
    const category = unique('gone').toLowerCase().slice(0, 40);
    const product = await aProduct({ category });
    await viewProduct(product.id);
    await deleteProduct(product.id);
    await expect(viewProduct(product.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await listProducts(query({ category }))).value.total).toBe(0);
    await expect(deleteProduct(product.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(updateProduct(product.id, { stock: 1 })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('stores what it was given, including unicode', async () => {
    const created = await createProduct({
      sku: newSku(),
      name: 'Café crème ☕',
      description: 'Ünïcödé',
      category: 'fixtures',
      priceCents: 0,
      currency: 'EUR',
      stock: 0,
    });
    expect((await viewProduct(created.id)).value).toEqual(created);
  });
});

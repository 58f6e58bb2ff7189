// The catalogue. Reads go through the cache (item keys, plus one hash holding every cached list page);
// every write that changes what a reader sees drops the item and the whole list hash.
import { db, type Queryable } from '../db/query.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { getCache } from '../cache/index.ts';
import { config } from '../config.ts';
import { business } from '../metrics/business.ts';
import { NotFoundError, SkuTakenError } from './errors.ts';
import type { ListProductsQuery, NewProduct, ProductChanges } from './schemas.ts';

export interface Product {
  id: number;
  sku: string;
  name: string;
  description: string;
  category: string;
  priceCents: number;
  currency: string;
  stock: number;
  createdAt: string;
  updatedAt: string;
}
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}
export type CacheStatus = 'HIT' | 'MISS';
export interface Cached<T> {
  value: T;
  cache: CacheStatus;
}

const COLUMNS = 'id, sku, name, description, category, price_cents, currency, stock, created_at, updated_at';
const LISTS_KEY = 'products:lists';
const itemKey = (id: number) => `products:item:${id}`;

const ORDER_BY: Record<ListProductsQuery['sort'], string> = {
  id: 'id',
  name: 'name, id',
  '-name': 'name DESC, id',
  price: 'price_cents, id',
  '-price': 'price_cents DESC, id',
  newest: 'created_at DESC, id DESC',
};

type ProductRow = {
  id: number;
  sku: string;
  name: string;
  description: string;
  category: string;
  price_cents: number;
  currency: string;
  stock: number;
  created_at: Date;
  updated_at: Date;
};

function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    category: row.category,
    priceCents: row.price_cents,
    currency: row.currency,
    stock: row.stock,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

async function readThrough<T>(
  lookup: () => Promise<string | null>,
  store: (json: string) => Promise<void>,
  load: () => Promise<T>,
): Promise<Cached<T>> {
  const hit = await lookup();
  if (hit !== null) return { value: JSON.parse(hit) as T, cache: 'HIT' };
  const value = await load();
  await store(JSON.stringify(value));
  return { value, cache: 'MISS' };
}

/** LIKE treats % and _ as wildcards; a search for "50%" means the characters. */
const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

async function loadPage(query: ListProductsQuery): Promise<Page<Product>> {
  const where = ['deleted_at IS NULL'];
  const values: unknown[] = [];
  if (query.category) {
    values.push(query.category);
    where.push(`category = $${values.length}`);
  }
  if (query.q) {
    values.push(likePattern(query.q));
    where.push(`(name ILIKE $${values.length} OR description ILIKE $${values.length})`);
  }
  const filter = where.join(' AND ');
  const [rows, [count]] = await Promise.all([
    db.query<ProductRow>(
      { operation: 'select', table: 'products' },
      `SELECT ${COLUMNS} FROM products WHERE ${filter} ORDER BY ${ORDER_BY[query.sort]} LIMIT $${values.length + 1} OFFSET $${values.length + 2}`,
      [...values, query.limit, query.offset],
    ),
    db.query<{ total: number }>({ operation: 'select', table: 'products' }, `SELECT count(*) AS total FROM products WHERE ${filter}`, values),
  ]);
  return { items: rows.map(toProduct), total: count?.total ?? 0, limit: query.limit, offset: query.offset };
}

export async function listProducts(query: ListProductsQuery): Promise<Cached<Page<Product>>> {
  const cache = getCache();
  // The field is the normalised query, so `?limit=20` and no limit share one entry.
  const field = JSON.stringify([query.sort, query.limit, query.offset, query.category ?? '', query.q ?? '']);
  return readThrough(
    () => cache.hget(LISTS_KEY, field),
    (json) => cache.hset(LISTS_KEY, field, json, config.cache.ttlSeconds),
    () => loadPage(query),
  );
}

async function findProduct(id: number, from: Queryable = db): Promise<Product> {
  const [row] = await from.query<ProductRow>(
    { operation: 'select', table: 'products' },
    `SELECT ${COLUMNS} FROM products WHERE id = $1 AND deleted_at IS NULL`,
    [id],
  );
  if (!row) throw new NotFoundError(`product ${id} not found`, { productId: id });
  return toProduct(row);
}

export async function viewProduct(id: number): Promise<Cached<Product>> {
  const cache = getCache();
  const result = await readThrough(
    () => cache.get(itemKey(id)),
    (json) => cache.set(itemKey(id), json, config.cache.ttlSeconds),
    () => findProduct(id),
  );
  business.productViewed(result.value.category);
  return result;
}

/** Called after every committed stock or catalogue change. */
export async function invalidateProducts(ids: number[]): Promise<void> {
  await getCache().del([...ids.map(itemKey), LISTS_KEY]);
}

export async function createProduct(input: NewProduct): Promise<Product> {
  try {
    const [row] = await db.query<ProductRow>(
      { operation: 'insert', table: 'products' },
      `INSERT INTO products (sku, name, description, category, price_cents, currency, stock)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS}`,
      [input.sku, input.name, input.description, input.category, input.priceCents, input.currency, input.stock],
    );
    await invalidateProducts([]);
    return toProduct(row!);
  } catch (err) {
    if (isUniqueViolation(err)) throw new SkuTakenError(`sku ${input.sku} is already in use`, { sku: input.sku });
    throw err;
  }
}

const CHANGE_COLUMNS: Record<keyof ProductChanges, string> = {
  name: 'name',
  description: 'description',
  category: 'category',
  priceCents: 'price_cents',
  currency: 'currency',
  stock: 'stock',
};

export async function updateProduct(id: number, changes: ProductChanges): Promise<Product> {
  const fields = (Object.keys(changes) as (keyof ProductChanges)[]).filter((k) => changes[k] !== undefined);
  const assignments = fields.map((field, i) => `${CHANGE_COLUMNS[field]} = $${i + 2}`);
  const [row] = await db.query<ProductRow>(
    { operation: 'update', table: 'products' },
    `UPDATE products SET ${assignments.join(', ')}, updated_at = now()
     WHERE id = $1 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
    [id, ...fields.map((f) => changes[f])],
  );
  if (!row) throw new NotFoundError(`product ${id} not found`, { productId: id });
  await invalidateProducts([id]);
  return toProduct(row);
}

export async function deleteProduct(id: number): Promise<void> {
  const rows = await db.query(
    { operation: 'update', table: 'products' },
    'UPDATE products SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id',
    [id],
  );
  if (rows.length === 0) throw new NotFoundError(`product ${id} not found`, { productId: id });
  await invalidateProducts([id]);
}

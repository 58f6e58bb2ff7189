// Request shapes of the shop. Strict objects (unknown fields are rejected) and no coercion: "5" where a
// number is expected is an error, not a 5. Query and path values arrive as strings, so they are parsed
// from strict digit strings rather than coerced.
import { z } from 'zod';

const MAX_ID = 2 ** 53 - 1;
const digits = (max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,16}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().max(max));

export const id = digits(MAX_ID).pipe(z.number().min(1, 'must be a positive id'));
export const idParams = z.strictObject({ id });

const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as EUR');
const category = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be a lowercase slug (a-z, 0-9, -)');
// Postgres text cannot hold U+0000: refused here it is a 400, not a statement that fails with a 500.
const storable = z.string().refine((s) => !s.includes('\u0000'), 'must not contain the NUL character');
const text = (max: number) => storable.trim().min(1).max(max);
const cents = z.number().int().min(0).max(100_000_000);
const stock = z.number().int().min(0).max(1_000_000);

export const productSort = ['id', 'name', '-name', 'price', '-price', 'newest'] as const;
export const listProductsQuery = z.strictObject({
  limit: digits(100).pipe(z.number().min(1)).default(20),
  offset: digits(10_000).default(0),
  category: category.optional(),
  q: storable.trim().min(1).max(100).optional(),
  sort: z.enum(productSort).default('id'),
});

const productFields = {
  name: text(200),
  description: storable.max(2000),
  category,
  priceCents: cents,
  currency,
  stock,
};
export const newProduct = z.strictObject({
  ...productFields,
  sku: z.string().regex(/^[A-Z0-9][A-Z0-9-]{1,39}$/, 'must be 2-40 characters of A-Z, 0-9 and -'),
  description: productFields.description.default(''),
  currency: productFields.currency.default('EUR'),
});
// No defaults here: a field left out of an update keeps its value.
export const productChanges = z
  .strictObject(productFields)
  .partial()
  .refine((changes) => Object.keys(changes).length > 0, 'at least one field must change');

export const registration = z.strictObject({
  email: z.email().max(254),
  password: z.string().min(8).max(128),
  name: text(100),
});
export const credentials = z.strictObject({
  email: storable.max(254),
  password: z.string().max(128),
});

export const orderStatuses = ['pending', 'paid', 'shipped', 'delivered', 'cancelled'] as const;
export type OrderStatus = (typeof orderStatuses)[number];

export const newOrder = z.strictObject({
  items: z
    .array(z.strictObject({ productId: z.number().int().min(1).max(MAX_ID), quantity: z.number().int().min(1).max(1000) }))
    .min(1)
    .max(50)
    .refine((items) => new Set(items.map((i) => i.productId)).size === items.length, 'each product may appear once'),
});
export const listOrdersQuery = z.strictObject({
  limit: digits(100).pipe(z.number().min(1)).default(20),
  offset: digits(10_000).default(0),
});
export const statusChange = z.strictObject({ status: z.enum(orderStatuses) });
export const idempotencyKey = z.string().regex(/^[A-Za-z0-9_.:-]{1,255}$/, 'must be 1-255 characters of A-Z, a-z, 0-9, _ . : -');

export type ListProductsQuery = z.infer<typeof listProductsQuery>;
export type NewProduct = z.infer<typeof newProduct>;
export type ProductChanges = z.infer<typeof productChanges>;
export type Registration = z.infer<typeof registration>;
export type Credentials = z.infer<typeof credentials>;
export type NewOrder = z.infer<typeof newOrder>;
export type ListOrdersQuery = z.infer<typeof listOrdersQuery>;

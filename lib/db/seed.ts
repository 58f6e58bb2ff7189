// The local catalogue and the first admin. Seeding only fills an empty catalogue and creates the admin
// only when that email is free, so it is safe on every start, embedded or DATABASE_URL.
import type { Queryable } from './query.ts';
import { config } from '../config.ts';
import { log } from '../log.ts';
import { hashPassword } from '../auth/passwords.ts';

const CATALOGUE: Record<string, [name: string, priceCents: number, stock: number][]> = {
  electronics: [
    ['Wireless Earbuds', 5999, 120], ['Mechanical Keyboard', 8999, 60], ['USB-C Charger 65W', 3499, 200],
    ['Noise-Cancelling Headphones', 19999, 40], ['Portable SSD 1TB', 10999, 75], ['Smart Watch', 14999, 50],
  ],
  books: [
    ['Designing Data-Intensive Applications', 4299, 30], ['The Pragmatic Programmer', 3999, 45],
    ['Site Reliability Engineering', 3599, 25], ['Clean Architecture', 3299, 35], ['Refactoring', 4499, 20],
    ['Observability Engineering', 4799, 15],
  ],
  home: [
    ['French Press', 2999, 80], ['Cast Iron Skillet', 3999, 50], ['Linen Duvet Cover', 8999, 30],
    ['Desk Lamp', 4599, 65], ['Ceramic Mug Set', 2499, 150], ['Wool Throw Blanket', 6999, 40],
  ],
  garden: [
    ['Pruning Shears', 1999, 90], ['Raised Garden Bed', 12999, 12], ['Watering Can', 1599, 110],
    ['Herb Seed Kit', 999, 300], ['Garden Gloves', 1299, 140], ['Compost Bin', 7999, 18],
  ],
  toys: [
    ['Wooden Building Blocks', 3499, 70], ['Puzzle 1000 Pieces', 1899, 85], ['Remote Control Car', 4999, 35],
    ['Board Game Classic', 2999, 60], ['Plush Bear', 1499, 120], ['Kite', 1799, 55],
  ],
  sports: [
    ['Yoga Mat', 2999, 100], ['Running Socks 3-Pack', 1499, 250], ['Adjustable Dumbbells', 17999, 20],
    ['Water Bottle 1L', 1999, 180], ['Jump Rope', 999, 160], ['Cycling Gloves', 2499, 75],
  ],
};

export async function seedCatalogue(db: Queryable): Promise<number> {
  const [existing] = await db.query<{ n: number }>({ operation: 'select', table: 'products' }, 'SELECT count(*) AS n FROM products');
  if ((existing?.n ?? 0) > 0) return 0;
  const rows = Object.entries(CATALOGUE).flatMap(([category, products]) =>
    products.map(([name, priceCents, stock], n) => ({
      sku: `${category.slice(0, 3).toUpperCase()}-${String(n + 1).padStart(3, '0')}`,
      name,
      description: `${name}, from our ${category} range.`,
      category,
      priceCents,
      stock,
    })),
  );
  await db.query(
    { operation: 'insert', table: 'products' },
    `INSERT INTO products (sku, name, description, category, price_cents, stock)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[])
     ON CONFLICT (sku) DO NOTHING`,
    [rows.map((r) => r.sku), rows.map((r) => r.name), rows.map((r) => r.description), rows.map((r) => r.category), rows.map((r) => r.priceCents), rows.map((r) => r.stock)],
  );
  return rows.length;
}

export async function seedAdmin(db: Queryable): Promise<boolean> {
  const { adminEmail, adminPassword } = config.seed;
  if (!adminEmail || !adminPassword) return false;
  const email = adminEmail.toLowerCase();
  const [existing] = await db.query({ operation: 'select', table: 'users' }, 'SELECT id FROM users WHERE lower(email) = $1', [email]);
  if (existing) return false;
  const inserted = await db.query(
    { operation: 'insert', table: 'users' },
    `INSERT INTO users (email, password_hash, name, role) VALUES ($1, $2, 'Administrator', 'admin')
     ON CONFLICT DO NOTHING RETURNING id`,
    [email, await hashPassword(adminPassword)],
  );
  return inserted.length > 0;
}

export async function seed(db: Queryable): Promise<void> {
  const products = await seedCatalogue(db);
  const admin = await seedAdmin(db);
  if (products > 0 || admin) log.info('database seeded', { products, admin: admin ? config.seed.adminEmail : undefined });
}

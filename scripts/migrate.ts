// `npm run migrate`: applies pending migrations to DATABASE_URL (for deployments; local runs migrate on start).
import { config } from '../lib/config.ts';
import { migrate } from '../lib/db/migrate.ts';

if (!config.database.url) {
  console.error('DATABASE_URL is not set (local runs migrate the embedded database on `npm start`)');
  process.exit(1);
}
await migrate(config.database.url);
console.log('migrations are up to date');

// `npm run dashboards`: renders monitoring/dashboards/*.ts into monitoring/grafana/dashboards/*.json.
// `--check` writes nothing and exits 1 listing the files that differ from a fresh render (CI, reviews).
import { relative } from 'node:path';
import { DASHBOARD_DIR, staleFiles, writeDashboards } from '../monitoring/dashboards/render.ts';

const where = relative(process.cwd(), DASHBOARD_DIR) || DASHBOARD_DIR;
if (process.argv.includes('--check')) {
  const stale = await staleFiles();
  if (stale.length > 0) {
    console.error(`dashboards out of date in ${where} (run npm run dashboards):\n  ${stale.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`dashboards in ${where} match the code`);
} else {
  const written = await writeDashboards();
  console.log(`rendered into ${where}:\n  ${written.join('\n  ')}`);
}

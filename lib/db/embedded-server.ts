// The embedded database as a child process of a local run that found nothing on the embedded port (see
// startEmbeddedServerProcess in pool.ts). Arguments: data directory, port, migrations directory.
import { startEmbeddedDatabase } from './embedded.ts';

const [dataDir, port, migrationsDir] = process.argv.slice(2);
const database = await startEmbeddedDatabase({ dataDir: dataDir!, port: Number(port), migrationsDir });
process.send?.('ready');
// The parent is gone (its invocation is answered): close the data directory cleanly and leave.
process.once('disconnect', () => {
  void database.stop().finally(() => process.exit(0));
});

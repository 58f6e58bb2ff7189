// The embedded database as a child process of a local run that found nothing on the embedded port (see
// startEmbeddedServerProcess in pool.ts). Arguments: data directory, port, migrations directory.
import { startEmbeddedDatabase } from './embedded.ts';

// A later local run may find this server and use it; it stays while anyone is connected, and a moment more
// so that such a run can get from its port probe to its first connection.
const IDLE_GRACE_MS = 500;

const [dataDir, port, migrationsDir] = process.argv.slice(2);
const database = await startEmbeddedDatabase({ dataDir: dataDir!, port: Number(port), migrationsDir });
process.send?.('ready');

let parentGone = false;
let exiting = false;
const exitWhenIdle = async () => {
  if (!parentGone || exiting || (await database.connections()) > 0) return;
  await new Promise((resolve) => setTimeout(resolve, IDLE_GRACE_MS));
  if (exiting || (await database.connections()) > 0) return;
  exiting = true;
  await database.stop().finally(() => process.exit(0));
};
database.onConnectionClosed(() => void exitWhenIdle());
process.once('disconnect', () => {
  parentGone = true;
  void exitWhenIdle();
});

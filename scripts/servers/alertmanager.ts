// Prometheus Alertmanager (Debian's prometheus-alertmanager) on loopback.
import { httpOk, type Launch } from './process.ts';

export function alertmanagerLaunch(port: number, configFile: string, storageDir: string): Launch {
  return {
    name: `alertmanager on 127.0.0.1:${port}`,
    command: 'prometheus-alertmanager',
    // No cluster: a single Alertmanager needs no gossip port.
    args: [`--config.file=${configFile}`, `--storage.path=${storageDir}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
    ready: () => httpOk(`http://127.0.0.1:${port}/-/ready`),
  };
}

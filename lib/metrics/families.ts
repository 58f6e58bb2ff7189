// Every family of the metric contract, registered on the private registry (lib/metrics/registry.ts). The
// scheduled jobs import only this: they write groups of every family but push no registry of their own.
import './http.ts';
import './system.ts';
import './database.ts';
import './cache.ts';
import './business.ts';
import './errors.ts';
import './events.ts';

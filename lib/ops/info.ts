import pkg from '../../package.json' with { type: 'json' };
import { config } from '../config.ts';

// Module scope runs once per container: this is when the container started.
const coldStartAt = new Date().toISOString();

export function info() {
  return {
    name: pkg.name,
    version: pkg.version,
    runtime: `node ${process.version}`,
    function: config.functionName,
    stage: config.stage,
    region: config.region,
    coldStartAt,
  };
}

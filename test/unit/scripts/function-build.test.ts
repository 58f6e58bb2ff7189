// The emulator's sandboxes and the bench's cold starts run bundles built with FUNCTION_BUILD: the same options
// serverless-esbuild is given in serverless.yml, or they would measure and test a different artefact.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { FUNCTION_BUILD } from '../../../scripts/support/function-build.ts';

describe('FUNCTION_BUILD', () => {
  it('matches custom.esbuild in serverless.yml', () => {
    const manifest = parse(readFileSync(path.resolve(import.meta.dirname, '../../../serverless.yml'), 'utf8')) as { custom: { esbuild: Record<string, unknown> } };
    const { exclude, ...deployed } = manifest.custom.esbuild;
    const { external, ...ours } = FUNCTION_BUILD;
    for (const [option, value] of Object.entries(ours)) expect(deployed[option], option).toEqual(value);
    expect(external).toEqual(exclude);
  });
});

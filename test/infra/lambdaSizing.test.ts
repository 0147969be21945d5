import { DEFAULT_MEMORY_MB } from '../../lib/taskgateFunction.js';
import { synth } from './synth.js';

// What docs/costs.md decided for every function: arm64 (Graviton's GB-second is 20% under x86's),
// the memory the bench's model sized (512 MB), and no --enable-source-maps (Node would parse the
// whole source map at every cold start).

it.each([
  ['noauth', {}],
  ['keystone', { auth: { mode: 'keystone', keystoneUrl: 'https://keystone.example/v3' } as const }],
])('every function of the %s stack is arm64 at the sized memory, without source maps at run time', (_mode, props) => {
  const { template } = synth(props);
  const functions = Object.values(template.findResources('AWS::Lambda::Function')) as { Properties: Record<string, any> }[];
  expect(functions.length).toBeGreaterThanOrEqual(4);
  for (const { Properties: p } of functions) {
    expect(p.Architectures).toEqual(['arm64']);
    expect(p.MemorySize).toBe(DEFAULT_MEMORY_MB);
    expect(JSON.stringify(p.Environment?.Variables ?? {})).not.toContain('enable-source-maps');
  }
});

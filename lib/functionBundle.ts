import { readFileSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

// How a taskgate function is built for Lambda (lib/taskgateFunction.ts runs it at synth, in a
// child process because esbuild's plugins need its asynchronous API; bench/coldStart.ts runs
// it to time what it builds). CDK's NodejsFunction writes one file, so every `import()` of a
// rarely used route's code is inlined and parsed at every cold start; this build splits them
// into chunks loaded on first use, and takes Node's built-in modules from
// `process.getBuiltinModule` (builtinsFromProcess below). docs/costs.md ("Cold start") has the figures.

/** The file Lambda loads (handler `index.handler`); the chunks it imports sit in chunks/. */
export const ENTRY_FILE = 'index.mjs';

/**
 * V8's young generation starts at 1 MB a semi-space and doubles as it fills: loading the API
 * filled it four times, and each scavenge copied a heap that nearly all survives (docs/costs.md,
 * "Cold start"). Starting it at 8 MB, no scavenge runs while a function loads. Lambda's own
 * flags set only its maximum (a twentieth of the memory), and NODE_OPTIONS may not carry this one.
 */
export const NODE_FLAGS = ['--min-semi-space-size=8'];

/**
 * The script Lambda starts the runtime's node through (AWS_LAMBDA_EXEC_WRAPPER, the function's
 * directory is /var/task): it is handed the runtime's command line and adds NODE_FLAGS after node.
 */
export const NODE_WRAPPER_FILE = 'node-flags.sh';
const NODE_WRAPPER = `#!/bin/sh
# Lambda's runtime command, node first, with taskgate's V8 flags after node (lib/functionBundle.ts NODE_FLAGS).
node="$1"
shift
exec "$node" ${NODE_FLAGS.join(' ')} "$@"
`;

const projectRoot = fileURLToPath(new URL('..', import.meta.url));

/** esbuild's target for a Lambda runtime: `nodejs24.x` is `node24`. */
export const esbuildTarget = (runtimeName: string): string => runtimeName.replace(/^nodejs(\d+)\.x$/, 'node$1');

/**
 * An ES module's `import ... from 'node:http'` makes Node build the module's ES facade, which
 * reads every export, lazy ones included: on Node 24 `http`'s WebSocket getters load undici
 * and `crypto`'s load WebCrypto, about 40 ms of CPU at every cold start for code the functions
 * never call. `process.getBuiltinModule` hands over the module object and runs no getter. A
 * CommonJS dependency's `require` of a built-in gets that object; an ES import gets an ES module
 * that exports the built-in's plain values by name (the names are the building Node's), and
 * the few lazy ones below that the bundled code imports by name. A CommonJS module there would
 * cost, in each importing module, a copy of all the built-in's exports into an ES namespace
 * (esbuild's __toESM: 38 copies, about 6 ms of the API's cold start). No output file needs
 * `require` then, nor the `createRequire(import.meta.url)` each one used to run. An `import()`
 * of a built-in is left to Node: it loads on first use.
 */
/**
 * Built-ins' lazy exports (getters) that the bundled code imports by name, each read when its
 * built-in loads: smithy's uuid takes crypto's getRandomValues, its body length fs's ReadStream,
 * the SSO token writer fs's promises. A name missing here fails the build ("No matching export").
 */
const LAZY_EXPORTS_IMPORTED = ['crypto.getRandomValues', 'fs.ReadStream', 'fs.promises'];

const builtinsFromProcess: Plugin = {
  name: 'builtins-from-process',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z][a-z0-9_/]*$/ }, (args) => {
      if (args.namespace !== 'file' || !isBuiltin(args.path)) return undefined;
      const path = args.path.replace(/^node:/, '');
      if (args.kind === 'import-statement') return { path, namespace: 'builtin-esm' };
      if (args.kind === 'require-call') return { path, namespace: 'builtin' };
      return undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin-esm' }, (args) => {
      const builtin = process.getBuiltinModule(`node:${args.path}`) as object;
      const names = Object.getOwnPropertyNames(builtin).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default'
        && ('value' in Object.getOwnPropertyDescriptor(builtin, name)! || LAZY_EXPORTS_IMPORTED.includes(`${args.path}.${name}`)));
      return {
        contents: `const m = process.getBuiltinModule('node:${args.path}'); export default m; export const { ${names.join(', ')} } = m;`,
        loader: 'js',
      };
    });
    b.onLoad({ filter: /.*/, namespace: 'builtin' }, (args) => ({
      contents: `module.exports = process.getBuiltinModule('node:${args.path}');`, loader: 'js',
    }));
  },
};

/** Builds functions/<handlerDir>/handler.ts into `outdir` (index.mjs, chunks/, source maps, the node wrapper); resolves to esbuild's metafile. */
export async function bundleFunction(handlerDir: string, outdir: string, target: string): Promise<Metafile> {
  const result = await build({
    entryPoints: { index: join(projectRoot, 'functions', handlerDir, 'handler.ts') },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target,
    outdir,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    mainFields: ['module', 'main'],
    minify: true,
    // The map ships beside each file for reading a minified stack trace after the fact; the
    // function does not run with --enable-source-maps (docs/costs.md).
    sourcemap: true,
    // The AWS SDK is bundled too: the version in package-lock.json is the one the tests ran.
    external: [],
    plugins: [builtinsFromProcess],
    metafile: true,
    logLevel: 'error',
    absWorkingDir: projectRoot,
  });
  // No output file has a \`require\`: a dependency's \`require(name)\` of something esbuild
  // could not bundle would become esbuild's shim, which throws when it runs.
  for (const file of Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.mjs'))) {
    if (readFileSync(join(projectRoot, file), 'utf8').includes('Dynamic require of "')) throw new Error(`${file} calls require, which an ES module does not have`);
  }
  writeFileSync(join(outdir, NODE_WRAPPER_FILE), NODE_WRAPPER, { mode: 0o755 });
  return result.metafile;
}

/**
 * The output files a cold start loads: the entry and every chunk it imports statically,
 * transitively (paths as the metafile gives them, relative to the project root). Chunks
 * reached only through `import()` load when a request first needs them.
 */
export function filesLoadedAtInit(metafile: Metafile): string[] {
  // Each chunk an import() loads is an entry point of its own to esbuild: the handler is the one.
  const entry = Object.keys(metafile.outputs).find((file) => /(^|\/)functions\/\w+\/handler\.ts$/.test(metafile.outputs[file]!.entryPoint ?? ''));
  if (!entry) throw new Error('the metafile has no entry point');
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const i of metafile.outputs[file]!.imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entry);
  return [...seen];
}

// `node --import tsx lib/functionBundle.ts <handlerDir> <outdir> <target>`: what the synth runs.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [handlerDir, outdir, target] = process.argv.slice(2);
  if (!handlerDir || !outdir || !target) throw new Error('usage: functionBundle.ts <handlerDir> <outdir> <target>');
  await bundleFunction(handlerDir, outdir, target);
}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// The stack refuses to synthesize without an identity mode (bin/app.ts), and `cdk bootstrap`,
// `deploy`, `diff` and `destroy` synthesize it: every such command the README and docs/ show, in a
// block or inline, names its mode, so that each one works as written.

const root = new URL('../..', import.meta.url).pathname;
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** Each cdk command of a page, from the command to the end of its line (continuations joined). */
function cdkCommands(markdown: string): string[] {
  const joined = markdown.replace(/\\\n\s*/g, ' ');
  return [...joined.matchAll(/(?:npx cdk|cdklocal|npm run synth --) ?(bootstrap|deploy|diff|destroy|synth)?[^\n`]*/g)]
    .map((m) => m[0]).filter((c) => !/^npm run synth --$/.test(c.trim()));
}

it('every cdk command of the README and docs/ names its identity mode', () => {
  const commands = pages.flatMap((page) => cdkCommands(readFileSync(join(root, page), 'utf8')).map((c) => ({ page, c })));
  expect(commands.length).toBeGreaterThanOrEqual(8);
  expect(commands.filter(({ c }) => /(bootstrap|deploy|diff|destroy|synth)\b/.test(c) && !/-c auth=/.test(c))).toEqual([]);
});

it('finds a command without one (the check is live)', () => {
  expect(cdkCommands('run `npx cdk deploy` then\n```sh\nnpx cdk destroy -c auth=noauth\n```')).toEqual(['npx cdk deploy', 'npx cdk destroy -c auth=noauth']);
});

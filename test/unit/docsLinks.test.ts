import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// The README is the front door: its links and the docs' links lead somewhere, its table of npm
// scripts is package.json's, and it stays short enough to read.

const root = new URL('../..', import.meta.url).pathname;
const pages = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const text = Object.fromEntries(pages.map((p) => [p, readFileSync(join(root, p), 'utf8')]));

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
const anchorsOf = (markdown: string) => new Set([...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));

it('every relative link of the README and docs/ leads to a file, and every #anchor to a heading', () => {
  const broken: string[] = [];
  for (const page of pages) {
    const body = text[page]!.replace(/```[\s\S]*?```/g, '');
    for (const [, target] of body.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [file, anchor] = target!.split('#');
      const path = file ? join(root, dirname(page), file) : join(root, page);
      if (!existsSync(path)) { broken.push(`${page}: ${target}`); continue; }
      if (anchor && path.endsWith('.md') && !anchorsOf(readFileSync(path, 'utf8')).has(anchor)) broken.push(`${page}: ${target} (no such heading)`);
    }
  }
  expect(broken).toEqual([]);
});

it('every repository path the README and docs/ name in backticks exists', () => {
  const missing = pages.flatMap((page) => [...text[page]!.matchAll(/`((?:functions|lib|bin|local|scripts|test|bench|patches|types)\/[\w./-]+)`/g)]
    .map((m) => m[1]!.replace(/\/$/, '')).filter((path) => !existsSync(join(root, path))).map((path) => `${page}: ${path}`));
  expect(missing).toEqual([]);
});

it('the README\'s npm scripts table names every script of package.json, and no other', () => {
  const scripts = Object.keys(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts as Record<string, string>);
  const section = text['README.md']!.split('## npm scripts')[1]!.split('\n## ')[0]!;
  const listed = [...section.matchAll(/^\| `(?:npm (?:run )?)?([\w:-]+)`/gm)].map((m) => m[1]!);
  // `prestart` and `pretest` are told in their scripts' rows.
  const told = scripts.filter((s) => listed.includes(s) || section.includes(`\`${s}\``));
  expect(told.sort()).toEqual([...scripts].sort());
  expect(listed.filter((s) => !scripts.includes(s))).toEqual([]);
});

it('the README reads in ten minutes: about 300 lines, a table of contents, the chart and diagram where they belong', () => {
  const readme = text['README.md']!;
  expect(readme.split('\n').length).toBeLessThanOrEqual(330);
  expect(readme).toContain('**Contents:**');
  expect(readme).toMatch(/```mermaid\nflowchart/);
  expect(text['docs/benchmarks.md']).toContain('](../bench/results/full.svg)');
});

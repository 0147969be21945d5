import * as ec2Model from '@aws-sdk/client-ec2';

// EC2's request shapes as the SDK itself ships them: @aws-sdk/client-ec2 exports a schema for
// every operation (`RunInstances$`: [9, namespace, name, traits, input, output]) and structure
// (`[3, namespace, name, traits, memberNames, memberSchemas, requiredCount]`, the required
// members first), lists `[1, namespace, name, traits, member]`. A request the driver builds is
// checked against them at run time: every required member present, no member EC2 does not
// define, strings, numbers and booleans where the model says so. The compile-time half of the
// check is the command input types the driver is written against.

type Schema = unknown;
const model = ec2Model as unknown as Record<string, Schema>;

const resolve = (s: Schema): Schema => {
  const unwrapped = Array.isArray(s) && typeof s[0] === 'function' && s.length === 2 && !Array.isArray(s[1]) ? s[0] : s;
  const inner = Array.isArray(unwrapped) && unwrapped.length === 2 && typeof unwrapped[0] === 'number' && typeof unwrapped[1] === 'object'
    ? unwrapped[0] : unwrapped;
  return typeof inner === 'function' ? (inner as () => Schema)() : inner;
};

const PRIMITIVES: Record<number, string> = { 0: 'string', 1: 'number', 2: 'boolean' };

function check(schema: Schema, value: unknown, path: string, problems: string[]): void {
  const s = resolve(schema);
  if (typeof s === 'number') {
    const want = PRIMITIVES[s];
    if (want && typeof value !== want) problems.push(`${path} must be a ${want}, not ${JSON.stringify(value)}`);
    return;
  }
  if (!Array.isArray(s)) return;
  if (s[0] === 3) {
    const names = s[4] as string[];
    const members = s[5] as Schema[];
    const required = typeof s[6] === 'number' ? s[6] : 0;
    if (typeof value !== 'object' || value === null) { problems.push(`${path} must be a ${String(s[2])} structure`); return; }
    const obj = value as Record<string, unknown>;
    for (let i = 0; i < required; i++) if (obj[names[i]!] === undefined) problems.push(`${path}.${names[i]} is required by ${String(s[2])}`);
    for (const [key, v] of Object.entries(obj)) {
      const at = names.indexOf(key);
      if (at < 0) problems.push(`${path}.${key} is not a member of ${String(s[2])}`);
      else if (v !== undefined) check(members[at], v, `${path}.${key}`, problems);
    }
  } else if (s[0] === 1) {
    if (!Array.isArray(value)) { problems.push(`${path} must be a list (${String(s[2])})`); return; }
    value.forEach((item, i) => check(s[4], item, `${path}[${i}]`, problems));
  }
}

/** What is wrong with `input` as the request of EC2 operation `operation` (empty: nothing). */
export function modelProblems(operation: string, input: unknown): string[] {
  const op = model[`${operation}$`];
  if (!Array.isArray(op) || op[0] !== 9) return [`EC2 has no operation ${operation}`];
  const problems: string[] = [];
  check(op[4], input, operation, problems);
  return problems;
}

import { createHash, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { BadRequest, Conflict, Forbidden, NotFound } from '../shared/errors.js';
import { isConditionFailure, type Table } from '../shared/table.js';

// Nova's key pairs (os-keypairs): owned by a user, named uniquely per user. One item each under
// the user's partition (KEYPAIR#<user>), so a user's list is one Query.

export interface KeyPair {
  readonly name: string;
  readonly userId: string;
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly type: 'ssh' | 'x509';
  readonly created: string;
  /** Nova's integer id, shown by GET /os-keypairs/{name}. */
  readonly id: number;
}

/** Nova's default key_pairs quota. */
export const KEYPAIR_QUOTA = 100;

const key = (userId: string, name: string) => ({ pk: `KEYPAIR#${userId}`, sk: name });

const SSH_TYPES = /^(ssh-rsa|ssh-dss|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;

/** The MD5 fingerprint Nova prints for an OpenSSH public key, or Nova's 400 for one it cannot read. */
function sshFingerprint(publicKey: string): string {
  const [type, blob] = publicKey.trim().split(/\s+/);
  const invalid = () => new BadRequest('Keypair data is invalid: failed to generate fingerprint');
  if (!type || !blob || !SSH_TYPES.test(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) throw invalid();
  const raw = Buffer.from(blob, 'base64');
  // The blob starts with its own type name, length-prefixed.
  if (raw.length < 4 || raw.readUInt32BE(0) !== type.length || raw.subarray(4, 4 + type.length).toString() !== type) throw invalid();
  return createHash('md5').update(raw).digest('hex').match(/../g)!.join(':');
}

function x509Fingerprint(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint.toLowerCase();
  } catch {
    throw new BadRequest('Keypair data is invalid: failed to generate fingerprint');
  }
}

/** An RSA key pair in OpenSSH's public format: what Nova generates when no public key is given. */
function generateSsh(comment: string): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const mpint = (b64url: string) => {
    let b = Buffer.from(b64url, 'base64url');
    if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    const len = Buffer.alloc(4); len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const name = Buffer.from('ssh-rsa');
  const len = Buffer.alloc(4); len.writeUInt32BE(name.length);
  const blob = Buffer.concat([len, name, mpint(jwk.e), mpint(jwk.n)]);
  return {
    publicKey: `ssh-rsa ${blob.toString('base64')} ${comment}`,
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  };
}

// DER, just enough of it for one self-signed certificate.
const der = (tag: number, body: Buffer) => {
  const n = body.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
};
const seq = (...parts: Buffer[]) => der(0x30, Buffer.concat(parts));
const oid = (dotted: string) => {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const v of rest) {
    const chunk = [v & 0x7f];
    for (let x = v >> 7; x > 0; x >>= 7) chunk.unshift((x & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
};
const utcTime = (d: Date) => der(0x17, Buffer.from(`${d.toISOString().replace(/[-:T]/g, '').slice(2, 14)}Z`));
const SHA256_RSA = seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));

/** A self-signed certificate and its key: what Nova (before 2.92) generates for an x509 key pair. */
function generateX509(commonName: string, now: number): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const name = seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(commonName)))));
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([2]))),
    der(0x02, Buffer.from([0x01, ...createHash('sha1').update(`${commonName}${now}`).digest().subarray(0, 8)])),
    SHA256_RSA, name, seq(utcTime(new Date(now)), utcTime(new Date(now + 365 * 24 * 3600 * 1000))), name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const signature = sign('sha256', tbs, privateKey);
  const cert = seq(tbs, SHA256_RSA, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const pem = `-----BEGIN CERTIFICATE-----\n${cert.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
  return { publicKey: pem, privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export interface NewKeyPair {
  readonly userId: string;
  readonly name: string;
  readonly type: 'ssh' | 'x509';
  readonly publicKey?: string;
}

/** Create (generating the key when none is given) or import; the private key is returned once. */
export async function createKeyPair(table: Table, req: NewKeyPair, now = Date.now()): Promise<{ keypair: KeyPair; privateKey?: string }> {
  let publicKey = req.publicKey;
  let privateKey: string | undefined;
  if (publicKey === undefined) {
    ({ publicKey, privateKey } = req.type === 'x509' ? generateX509(req.name, now) : generateSsh('Generated-by-Nova'));
  }
  const fingerprint = req.type === 'x509' ? x509Fingerprint(publicKey) : sshFingerprint(publicKey);
  const existing = await listKeyPairs(table, req.userId);
  if (existing.length >= KEYPAIR_QUOTA) throw new Forbidden('Quota exceeded, too many key pairs.');
  const keypair: KeyPair = {
    name: req.name, userId: req.userId, publicKey, fingerprint, type: req.type,
    created: new Date(now).toISOString(), id: Number(`${now}`.slice(-9)),
  };
  try {
    await table.db.send(new PutCommand({
      TableName: table.name, Item: { ...key(req.userId, req.name), ...keypair }, ConditionExpression: 'attribute_not_exists(pk)',
    }));
  } catch (err) {
    if (isConditionFailure(err)) throw new Conflict(`Key pair '${req.name}' already exists.`);
    throw err;
  }
  return { keypair, privateKey };
}

export async function getKeyPair(table: Table, userId: string, name: string): Promise<KeyPair> {
  const out = await table.db.send(new GetCommand({ TableName: table.name, Key: key(userId, name), ConsistentRead: true }));
  if (!out.Item) throw new NotFound(`Keypair ${name} not found for user ${userId}`);
  return out.Item as KeyPair;
}

/** A user's key pairs by name; after `marker` (a name) when given. */
export async function listKeyPairs(table: Table, userId: string, marker?: string): Promise<KeyPair[]> {
  const items: KeyPair[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const out = await table.db.send(new QueryCommand({
      TableName: table.name, ConsistentRead: true, ExclusiveStartKey: start,
      KeyConditionExpression: marker ? 'pk = :pk AND sk > :marker' : 'pk = :pk',
      ExpressionAttributeValues: { ':pk': key(userId, '').pk, ...(marker ? { ':marker': marker } : {}) },
    }));
    items.push(...((out.Items ?? []) as KeyPair[]));
    start = out.LastEvaluatedKey;
  } while (start);
  return items;
}

export async function deleteKeyPair(table: Table, userId: string, name: string): Promise<void> {
  try {
    await table.db.send(new DeleteCommand({ TableName: table.name, Key: key(userId, name), ConditionExpression: 'attribute_exists(pk)' }));
  } catch (err) {
    if (isConditionFailure(err)) throw new NotFound(`Keypair ${name} not found for user ${userId}`);
    throw err;
  }
}

import { setTimeout as sleep } from 'node:timers/promises';

// A minimal Nova client over real HTTP, for e2e and HTTP-level integration tests.

export interface NovaResponse<T = any> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export class Nova {
  constructor(readonly baseUrl: string, readonly token = 'alice:demo', readonly defaultHeaders: Record<string, string> = {}) {}

  as(token: string): Nova {
    return new Nova(this.baseUrl, token, this.defaultHeaders);
  }

  /** The same client asking for a compute microversion on every request. */
  atVersion(version: string): Nova {
    return new Nova(this.baseUrl, this.token, { ...this.defaultHeaders, 'OpenStack-API-Version': `compute ${version}` });
  }

  async request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<NovaResponse<T>> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.token ? { 'x-auth-token': this.token } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...this.defaultHeaders,
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get = <T = any>(path: string) => this.request<T>('GET', path);
  post = <T = any>(path: string, body?: unknown) => this.request<T>('POST', path, body);
  delete = <T = any>(path: string) => this.request<T>('DELETE', path);
  action = (serverId: string, body: unknown) => this.post(`/servers/${serverId}/action`, body);

  /** The microversion this client asks for (2.1 when none). */
  get minor(): number {
    const asked = /compute 2\.(\d+)/.exec(this.defaultHeaders['OpenStack-API-Version'] ?? '');
    return asked ? Number(asked[1]) : 1;
  }

  async createServer(name = 'vm', flavorRef = '1', imageRef = IMAGE): Promise<string> {
    // From 2.37 Nova requires `networks`; taskgate's servers start without ports.
    const networks = this.minor >= 37 ? { networks: 'none' } : {};
    const res = await this.post('/servers', { server: { name, flavorRef, imageRef, ...networks } });
    if (res.status !== 202) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.server.id;
  }

  /** Polls until the server's task_state is null again; returns the server. */
  async waitIdle(serverId: string, timeoutMs = 30_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.get(`/servers/${serverId}`);
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw new Error(`GET server: ${res.status} ${JSON.stringify(res.body)}`);
      if (res.body.server['OS-EXT-STS:task_state'] === null) return res.body.server;
      if (Date.now() > deadline) throw new Error(`server ${serverId} still busy: ${res.body.server['OS-EXT-STS:task_state']}`);
      await sleep(20);
    }
  }

  /** Polls until GET server answers 404 (deleted). */
  async waitGone(serverId: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.get(`/servers/${serverId}`)).status !== 404) {
      if (Date.now() > deadline) throw new Error(`server ${serverId} not deleted`);
      await sleep(20);
    }
  }
}

export const IMAGE = '70a599e0-31e7-49b7-b260-868f441e862b';
export const IMAGE2 = '155d900f-4e14-4e4c-a73d-069cbf4541e6';

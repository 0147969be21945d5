import { createServer, request, type Server } from 'node:http';

// Keystone tokens in front of taskgate's noauth convention, for the Tempest run only, until
// taskgate's own Keystone mode is on main: each request's X-Auth-Token is validated with the real
// Keystone (GET /v3/auth/tokens) and passed on as `<user id>:<project id>`, `admin:<project id>`
// for a token with the admin role (taskgate's noauth administrator). An unknown token goes on
// without one (taskgate's 401). Replace by starting taskgate in Keystone mode once it lands.

export interface TokenShim {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startTokenShim(opts: {
  target: string; keystoneUrl: string; serviceToken: () => Promise<string>;
}): Promise<TokenShim> {
  const known = new Map<string, string>();
  const noauthToken = async (token: string): Promise<string | undefined> => {
    const cached = known.get(token);
    if (cached) return cached;
    const res = await fetch(`${opts.keystoneUrl}/auth/tokens`, {
      headers: { 'x-auth-token': await opts.serviceToken(), 'x-subject-token': token },
    });
    if (res.status !== 200) return undefined;
    const { token: t } = await res.json() as { token: { user: { id: string }; project?: { id: string }; roles?: { name: string }[] } };
    if (!t.project) return undefined;
    const isAdmin = (t.roles ?? []).some((r) => r.name === 'admin');
    const mapped = `${isAdmin ? 'admin' : t.user.id}:${t.project.id}`;
    known.set(token, mapped);
    return mapped;
  };
  const target = new URL(opts.target);
  const server: Server = createServer((req, res) => {
    void (async () => {
      const headers = { ...req.headers };
      const token = headers['x-auth-token'];
      delete headers['x-auth-token'];
      if (typeof token === 'string') {
        const mapped = await noauthToken(token).catch(() => undefined);
        if (mapped) headers['x-auth-token'] = mapped;
      }
      // The Host header stays the shim's: taskgate's links then lead back through it.
      const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      upstream.on('error', () => { res.writeHead(502); res.end(); });
      req.pipe(upstream);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

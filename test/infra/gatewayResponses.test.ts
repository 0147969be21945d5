import { GATEWAY_RESPONSES, UNAUTHORIZED_BODY } from '../../functions/authorizer/gatewayResponses.js';
import { logicalId, synth } from './synth.js';

// API Gateway's own answers (gateway responses) are Nova's error bodies in every identity mode,
// exactly those the local runtime answers (both read functions/authorizer/gatewayResponses.ts).

/** The fault names of Nova's Fault (nova/api/openstack/wsgi.py): the kind is the status's. */
const NOVA_KINDS: Record<number, string> = {
  400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 405: 'badMethod', 409: 'conflictingRequest',
  413: 'overLimit', 415: 'badMediaType', 429: 'overLimit', 501: 'notImplemented', 503: 'serviceUnavailable',
};

interface GatewayResponse { Properties: { ResponseType: string; StatusCode?: string; ResponseTemplates: Record<string, string>; RestApiId: unknown } }

describe.each([
  { auth: { mode: 'noauth' } },
  { auth: { mode: 'jwt', issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc', audience: 'client' } },
] as const)('$auth.mode', (props) => {
  const { stack, template } = synth(props);
  const installed = Object.values(template.findResources('AWS::ApiGateway::GatewayResponse') as Record<string, GatewayResponse>)
    .map((r) => r.Properties);
  const byType = new Map(installed.map((p) => [p.ResponseType, p]));

  it('installs each gateway response once, on the API, with the table\'s status and body', () => {
    expect(installed.map((p) => p.ResponseType).sort()).toEqual(Object.keys(GATEWAY_RESPONSES).sort());
    for (const [type, r] of Object.entries(GATEWAY_RESPONSES)) {
      const p = byType.get(type)!;
      expect([type, p.RestApiId]).toEqual([type, { Ref: logicalId(stack, stack.api!.api) }]);
      // The fallbacks keep API Gateway's status (setting it would set every type's of the class).
      expect([type, p.StatusCode]).toEqual([type, type.startsWith('DEFAULT_') ? undefined : String(r.statusCode)]);
      expect([type, Object.keys(p.ResponseTemplates)]).toEqual([type, ['application/json']]);
      expect([type, JSON.parse(p.ResponseTemplates['application/json']!)]).toEqual([type, r.body]);
    }
  });

  it('answers in Nova\'s shape: {"<kind>": {"code", "message"}}, the kind Nova names the status with', () => {
    for (const [type, p] of byType) {
      const body = JSON.parse(p.ResponseTemplates['application/json']!) as Record<string, { code: number; message: string }>;
      const status = GATEWAY_RESPONSES[type as keyof typeof GATEWAY_RESPONSES].statusCode;
      if (type === 'UNAUTHORIZED') {
        // The token's refusal is keystonemiddleware's, as in front of Nova.
        expect(body).toEqual(UNAUTHORIZED_BODY);
        continue;
      }
      expect([type, Object.keys(body)]).toEqual([type, [NOVA_KINDS[status] ?? 'computeFault']]);
      expect([type, Object.values(body)[0]]).toEqual([type, { code: status, message: expect.stringMatching(/^\S.{5,200}$/) }]);
    }
  });

  it('covers what API Gateway answers itself: too large, the authorizer\'s refusals, throttling, and the fallbacks', () => {
    const kindOf = (type: string) => Object.keys(JSON.parse(byType.get(type)!.ResponseTemplates['application/json']!))[0];
    expect(Object.fromEntries(['REQUEST_TOO_LARGE', 'UNAUTHORIZED', 'ACCESS_DENIED', 'THROTTLED', 'DEFAULT_4XX', 'DEFAULT_5XX']
      .map((t) => [t, [byType.get(t)?.StatusCode, kindOf(t)]]))).toEqual({
      REQUEST_TOO_LARGE: ['413', 'overLimit'],
      UNAUTHORIZED: ['401', 'error'],
      ACCESS_DENIED: ['403', 'forbidden'],
      THROTTLED: ['429', 'overLimit'],
      DEFAULT_4XX: [undefined, 'badRequest'],
      DEFAULT_5XX: [undefined, 'computeFault'],
    });
  });
});

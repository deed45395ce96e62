import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { EndpointState } from '../../src/activities/endpoints';
import { checkEndpoint, unusableConfiguration } from '../../src/activities/endpoints';
import { Secret } from '../../src/config/secret';

const state = (over: Partial<EndpointState>): EndpointState => ({
  name: 'x',
  url: 'https://x/sdk',
  reachable: true,
  certificate: 'pin-match',
  presentedThumbprint: null,
  login: 'ok',
  apiVersion: '8.0',
  product: null,
  kind: 'esx',
  missingPrivileges: null,
  problem: null,
  ...over,
});

describe('endpoint checks', () => {
  it('refuses to start only when every endpoint fails for a reason of the configuration', () => {
    const refused = state({ login: 'refused', problem: 'login refused' });
    const mismatch = state({ certificate: 'pin-mismatch', login: 'not-tried', problem: 'pin' });
    const down = state({ reachable: false, certificate: null, login: 'not-tried', problem: 'down' });
    expect(unusableConfiguration([refused, mismatch])).toBe(true);
    expect(unusableConfiguration([refused, state({})])).toBe(false);
    // An unreachable endpoint may come back: the worker runs and says so.
    expect(unusableConfiguration([refused, down])).toBe(false);
    expect(unusableConfiguration([])).toBe(false);
  });

  it('reports an endpoint nobody answers at as unreachable, naming the field to check', async () => {
    // A port that was free a moment ago: the connection is refused.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const result = await checkEndpoint({
      name: 'esx-z',
      url: `https://127.0.0.1:${port}/sdk`,
      username: 'root',
      password: new Secret('never-shown'),
      tls: { thumbprint: 'AA:'.repeat(31).concat('AA') },
    });
    expect(result).toMatchObject({ name: 'esx-z', reachable: false, certificate: null, login: 'not-tried' });
    expect(result.problem).toMatch(
      /^cannot reach https:\/\/127\.0\.0\.1:\d+\/sdk .*check endpoints\.esx-z\.url/,
    );
    expect(JSON.stringify(result)).not.toContain('never-shown');
  });
});

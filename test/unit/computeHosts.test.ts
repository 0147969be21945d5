import { computeHosts, ConfigError, DEFAULT_COMPUTE_HOSTS } from '../../functions/core/shared/config.js';

// TASKGATE_COMPUTE_HOSTS: the default when unset, each host as given (zone nova by default), and
// a ConfigError naming the variable and what is wrong for anything else.

const hosts = (value: string) => computeHosts({ TASKGATE_COMPUTE_HOSTS: value });

describe('TASKGATE_COMPUTE_HOSTS', () => {
  it('is the one large default host when unset or empty', () => {
    expect(computeHosts({})).toBe(DEFAULT_COMPUTE_HOSTS);
    expect(computeHosts({ TASKGATE_COMPUTE_HOSTS: '' })).toBe(DEFAULT_COMPUTE_HOSTS);
    expect(DEFAULT_COMPUTE_HOSTS).toEqual([{ name: 'taskgate-compute', zone: 'nova', vcpus: 4096, ram: 16_777_216, disk: 1_048_576 }]);
  });

  it('reads each host, in zone nova unless it names one', () => {
    expect(hosts('[{"name":"c0","vcpus":8,"ram":4096,"disk":40},{"name":"e.1","zone":"edge","vcpus":2,"ram":1024,"disk":10}]')).toEqual([
      { name: 'c0', zone: 'nova', vcpus: 8, ram: 4096, disk: 40 },
      { name: 'e.1', zone: 'edge', vcpus: 2, ram: 1024, disk: 10 },
    ]);
  });

  it.each([
    ['not JSON', '[{', 'must be a JSON array of hosts'],
    ['an object', '{"name":"c0"}', 'must be a JSON array of 1 to 1000 hosts'],
    ['empty', '[]', 'must be a JSON array of 1 to 1000 hosts'],
    ['a host that is not an object', '[1]', '[0] must be an object'],
    ['an unknown field', '[{"name":"c0","vcpus":1,"ram":1,"disk":1,"cpus":2}]', '[0] has unknown field "cpus"'],
    ['a bad name', '[{"name":"c 0","vcpus":1,"ram":1,"disk":1}]', '[0].name must be 1 to 63 letters'],
    ['a bad zone', '[{"name":"c0","zone":"","vcpus":1,"ram":1,"disk":1}]', '[0].zone must be 1 to 63 letters'],
    ['no vcpus', '[{"name":"c0","ram":1,"disk":1}]', '[0].vcpus must be a positive integer'],
    ['a fractional ram', '[{"name":"c0","vcpus":1,"ram":1.5,"disk":1}]', '[0].ram must be a positive integer'],
    ['a zero disk', '[{"name":"c0","vcpus":1,"ram":1,"disk":0}]', '[0].disk must be a positive integer'],
    ['a name twice', '[{"name":"c0","vcpus":1,"ram":1,"disk":1},{"name":"c0","vcpus":1,"ram":1,"disk":1}]', 'names host "c0" twice'],
  ])('refuses %s, naming the variable', (_what, value, message) => {
    expect(() => hosts(value)).toThrow(ConfigError);
    expect(() => hosts(value)).toThrow(`TASKGATE_COMPUTE_HOSTS ${message}`);
  });
});

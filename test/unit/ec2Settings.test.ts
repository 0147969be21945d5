import { ConfigError, driverSettings, ec2Settings } from '../../functions/core/shared/config.js';
import { ec2DeviceName, Ec2Resources } from '../../functions/core/compute/ec2/resources.js';
import { DriverError } from '../../functions/core/shared/errors.js';

// The EC2 driver's configuration: read and checked at start, a bad value named with what it must be.

const ENV = {
  TASKGATE_DRIVER: 'ec2',
  TASKGATE_EC2_SUBNET_ID: 'subnet-0123456789abcdef0',
  TASKGATE_EC2_SECURITY_GROUP_IDS: 'sg-0123456789abcdef0, sg-0123456789abcdef1',
  TASKGATE_EC2_INSTANCE_TYPES: '{"1":"t3.micro","2":"m7g.large"}',
  TASKGATE_EC2_AMIS: '{"img":"ami-0123456789abcdef0"}',
};

test('the default driver is the simulated one, with no EC2 settings read', () => {
  expect(driverSettings({})).toEqual({ driver: 'simulated', stepMs: 300 });
});

test('TASKGATE_DRIVER=ec2 reads and checks the EC2 settings', () => {
  const s = driverSettings(ENV);
  expect(s.driver).toBe('ec2');
  expect(s.ec2).toMatchObject({
    subnetId: 'subnet-0123456789abcdef0', securityGroupIds: ['sg-0123456789abcdef0', 'sg-0123456789abcdef1'],
    instanceTypes: { 1: 't3.micro', 2: 'm7g.large' }, amis: { img: 'ami-0123456789abcdef0' },
    ebsVolumes: {}, networkInterfaces: {}, stackTag: 'taskgate', pollSeconds: 15, operationTimeoutSeconds: 3600,
  });
});

test.each([
  [{ TASKGATE_EC2_SUBNET_ID: undefined }, /TASKGATE_EC2_SUBNET_ID is not set/],
  [{ TASKGATE_EC2_SUBNET_ID: 'vpc-0123456789abcdef0' }, /TASKGATE_EC2_SUBNET_ID must be a subnet id/],
  [{ TASKGATE_EC2_SECURITY_GROUP_IDS: 'default' }, /TASKGATE_EC2_SECURITY_GROUP_IDS must be .*sg-/],
  [{ TASKGATE_EC2_INSTANCE_TYPES: '["t3.micro"]' }, /TASKGATE_EC2_INSTANCE_TYPES must be a JSON object/],
  [{ TASKGATE_EC2_INSTANCE_TYPES: '{"1":"huge"}' }, /TASKGATE_EC2_INSTANCE_TYPES: "1" must map to an instance type/],
  [{ TASKGATE_EC2_INSTANCE_TYPES: undefined }, /TASKGATE_EC2_INSTANCE_TYPES is not set/],
  [{ TASKGATE_EC2_AMIS: '{"img":"ubuntu"}' }, /TASKGATE_EC2_AMIS: "img" must map to an AMI id/],
  [{ TASKGATE_EC2_VOLUMES: '{"v":"vol-x"}' }, /TASKGATE_EC2_VOLUMES: "v" must map to an EBS volume id/],
  [{ TASKGATE_EC2_NETWORK_INTERFACES: 'eni-0123456789abcdef0' }, /TASKGATE_EC2_NETWORK_INTERFACES must be a JSON object/],
  [{ TASKGATE_EC2_INSTANCE_PROFILE_ARN: 'taskgate-guest' }, /TASKGATE_EC2_INSTANCE_PROFILE_ARN must be an instance profile ARN/],
  [{ TASKGATE_EC2_ENDPOINT: 'ec2.local' }, /TASKGATE_EC2_ENDPOINT must be an http\(s\) URL/],
  [{ TASKGATE_EC2_POLL_SECONDS: '0' }, /TASKGATE_EC2_POLL_SECONDS must be an integer from 1 to 900/],
])('%j is refused with a line naming the variable', (change, message) => {
  const env = { ...ENV, ...change };
  expect(() => ec2Settings(env)).toThrow(ConfigError);
  expect(() => ec2Settings(env)).toThrow(message);
});

test('an unmapped flavor, image, volume or port is a fault naming the variable to set, not a crash', () => {
  const r = new Ec2Resources(ec2Settings(ENV));
  expect(r.instanceType('2')).toBe('m7g.large');
  expect(() => r.instanceType('3')).toThrow(DriverError);
  expect(() => r.instanceType('3')).toThrow(/TASKGATE_EC2_INSTANCE_TYPES/);
  expect(() => r.ami('toString')).toThrow(/TASKGATE_EC2_AMIS/);
  expect(() => r.ebsVolume('v')).toThrow(/TASKGATE_EC2_VOLUMES/);
  expect(() => r.networkInterface('p')).toThrow(/TASKGATE_EC2_NETWORK_INTERFACES/);
});

test('Nova\'s device names become the /dev/sdX EC2 takes; anything else is refused', () => {
  expect(ec2DeviceName('/dev/vdb')).toBe('/dev/sdb');
  expect(ec2DeviceName('/dev/xvdf')).toBe('/dev/sdf');
  expect(() => ec2DeviceName('/dev/nvme1n1')).toThrow(DriverError);
});

test.each([1, 2])('a maxReceiveCount of %i is refused with the EC2 driver: a wait would have no receive to spare', (n) => {
  expect(() => driverSettings({ ...ENV, TASKGATE_MAX_RECEIVE_COUNT: String(n) }))
    .toThrow(new ConfigError(`TASKGATE_MAX_RECEIVE_COUNT must be 3 or more with TASKGATE_DRIVER=ec2, not ${n}: `
      + 'a step waiting on EC2 needs receives to spare before the queue dead-letters its message'));
});

test('3 or more is taken with the EC2 driver, and any count with the simulated one', () => {
  expect(driverSettings({ ...ENV, TASKGATE_MAX_RECEIVE_COUNT: '3' }).driver).toBe('ec2');
  expect(driverSettings({ TASKGATE_MAX_RECEIVE_COUNT: '1' }).driver).toBe('simulated');
});

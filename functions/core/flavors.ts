// A small seeded flavor catalogue: Nova's classic defaults.

export interface Flavor {
  readonly id: string;
  readonly name: string;
  readonly vcpus: number;
  readonly ram: number;
  readonly disk: number;
  readonly ephemeral: number;
  readonly swap: number;
  readonly rxtxFactor: number;
  readonly isPublic: boolean;
}

const flavor = (id: string, name: string, vcpus: number, ram: number, disk: number): Flavor =>
  ({ id, name, vcpus, ram, disk, ephemeral: 0, swap: 0, rxtxFactor: 1, isPublic: true });

export const FLAVORS: readonly Flavor[] = [
  flavor('1', 'm1.tiny', 1, 512, 1),
  flavor('2', 'm1.small', 1, 2048, 20),
  flavor('3', 'm1.medium', 2, 4096, 40),
  flavor('4', 'm1.large', 4, 8192, 80),
  flavor('5', 'm1.xlarge', 8, 16384, 160),
];

export function findFlavor(id: string): Flavor | undefined {
  return FLAVORS.find((f) => f.id === id);
}

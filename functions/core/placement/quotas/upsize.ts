import { Forbidden } from '../../shared/errors.js';
import type { Table } from '../../shared/table.js';
import { projectLimits } from './limits.js';
import { readUsage } from './usage.js';

// A resize to a larger flavor, checked against the project's cores and ram as Nova's API checks
// it (nova/compute/api.py resize: upsize_quota_delta, then Quotas.check_deltas, refused with
// TooManyInstances' words). Like Nova's it is a check, not a charge: the usage it reads counts the
// flavor each server was created with (docs/quotas.md), and nothing is reserved against a create
// or another resize racing it.

export interface FlavorSize {
  readonly vcpus: number;
  readonly ram: number;
}

/** Refuses (Nova's 403) a resize whose growth in cores or ram would pass the project's limits. */
export async function checkUpsize(table: Table, projectId: string, from: FlavorSize, to: FlavorSize): Promise<void> {
  const delta = { cores: to.vcpus - from.vcpus, ram: to.ram - from.ram };
  if (delta.cores <= 0 && delta.ram <= 0) return;
  const [limits, usage] = await Promise.all([projectLimits(table, projectId), readUsage(table, projectId)]);
  const overs = (['cores', 'ram'] as const).filter((r) => delta[r] > 0 && limits[r] >= 0 && usage[r] + delta[r] > limits[r]);
  if (overs.length === 0) return;
  throw new Forbidden(`Quota exceeded for ${overs.join(', ')}: Requested ${overs.map((r) => delta[r]).join(', ')}, `
    + `but already used ${overs.map((r) => usage[r]).join(', ')} of ${overs.map((r) => limits[r]).join(', ')} ${overs.join(', ')}`);
}

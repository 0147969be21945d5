import { discardSnapshot, recordSnapshot, rotateBackups } from '../images/snapshots.js';
import type { Image } from '../images/image.js';
import type { Reservation } from './reservations.js';

// What createImage and createBackup hold besides the claim: the image they make (its record is
// on the claim's parameters, written by admission before it answers). Taken up, the worker
// writes it again if it is missing, fenced by its claim; a failed or superseded operation deletes it unless its
// upload finished; a backup that succeeded rotates the server's older backups out, after its
// release, as Nova's backup_instance does once task_state is cleared.

const imageOf = (params: Record<string, unknown>) => params.image as Image;

export const snapshotting: Reservation = {
  begin: async (table, claim, instanceId) => recordSnapshot(table, imageOf(claim.params), { instanceId, token: claim.token }),
  undo: async (table, claim) => {
    if (claim.params.image) await discardSnapshot(table, imageOf(claim.params).id, Date.now());
  },
  settle: async (table, claim, instanceId) => {
    const { backupType, rotation } = claim.params;
    if (typeof backupType === 'string' && typeof rotation === 'number') {
      await rotateBackups(table, instanceId, backupType, rotation, Date.now());
    }
  },
};

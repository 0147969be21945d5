import type { Tag, TagSpecification, ResourceType } from '@aws-sdk/client-ec2';

/**
 * What taskgate writes on every EC2 resource it makes. `taskgate:stack` is what the stack's IAM
 * policy conditions every action on (aws:ResourceTag / aws:RequestTag), `taskgate:server` is how
 * the driver and the drift function find a server's instance: taskgate keeps no EC2 id.
 */
export const TagKeys = {
  stack: 'taskgate:stack',
  server: 'taskgate:server',
  project: 'taskgate:project',
  request: 'taskgate:request',
  /**
   * The reboot whose stop is done and whose start is next: written between the two calls, so that
   * a resumption tells "stopped by this reboot, start it" and "started again, done" apart from
   * "not rebooted yet" without a clock.
   */
  restarted: 'taskgate:restarted',
  /** The taskgate image an AMI and its EBS snapshots hold (createImage, createBackup): what a rotation finds them by. */
  image: 'taskgate:image',
} as const;

export function tagsOf(values: { stack: string; server: string; project: string; request: string }): Tag[] {
  return [
    { Key: TagKeys.stack, Value: values.stack },
    { Key: TagKeys.server, Value: values.server },
    { Key: TagKeys.project, Value: values.project },
    { Key: TagKeys.request, Value: values.request },
  ];
}

export const tagging = (types: readonly ResourceType[], tags: Tag[]): TagSpecification[] =>
  types.map((ResourceType) => ({ ResourceType, Tags: tags }));

export const tagValue = (tags: readonly Tag[] | undefined, key: string): string | undefined =>
  tags?.find((t) => t.Key === key)?.Value;

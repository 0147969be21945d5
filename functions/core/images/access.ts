import type { Caller } from '../compute/instance.js';
import { Forbidden, NotFound } from '../shared/errors.js';
import { refusal, type IMAGE_POLICIES } from '../shared/policy.js';
import type { Image, Visibility } from './image.js';

// Who sees and who changes an image: Glance's secure-RBAC defaults (glance/policies/base.py,
// image.py) together with its database's visibility rule (glance/db/utils.py is_image_visible).
// The role each needs is checked before the route runs (functions/core/shared/policy.ts); these
// are the checks that depend on the image. Glance has no image members here: a shared image is
// its owner's alone.

/**
 * get_image: an administrator sees every image; anyone else public and community images and
 * their own project's. Any other image does not exist for them (Glance answers 404).
 */
export function isVisibleTo(caller: Caller, image: Image): boolean {
  return caller.isAdmin || image.visibility === 'public' || image.visibility === 'community'
    || (image.owner !== null && image.owner === caller.projectId);
}

/** modify_image and delete_image: an administrator, or a member of the owning project. */
export function ownsImage(caller: Caller, image: Image): boolean {
  return caller.isAdmin || (image.owner !== null && image.owner === caller.projectId);
}

/** Glance's refusal of one of its rules, for a check that needs the image. */
export const policyRefusal = (rule: keyof typeof IMAGE_POLICIES) => new Forbidden(refusal(rule));

/**
 * A rule that needs the owner: an image the caller cannot see is 404, one it sees but does not
 * own is the rule's 403 (ImageAPIPolicy._enforce).
 */
export function requireOwner(caller: Caller, image: Image, rule: 'modify_image' | 'delete_image', notFound: string): void {
  if (ownsImage(caller, image)) return;
  if (!isVisibleTo(caller, image)) throw new NotFound(notFound);
  throw policyRefusal(rule);
}

/** Making an image public is the administrator's (publicize_image); community, any member (communitize_image). */
export function requireVisibilityAllowed(caller: Caller, visibility: Visibility | undefined): void {
  if (visibility === 'public' && !caller.isAdmin) throw policyRefusal('publicize_image');
}

/**
 * Physical names for the cache's stateless children (users, ACLs, user groups, parameter and subnet groups).
 *
 * CloudFormation replaces a resource by creating the new one before deleting the old one, so a resource with a
 * fixed custom name can never be replaced: the create fails with "already exists". MemoryDB and ElastiCache
 * require names for these resources, so each name carries a hash of the stack name, the construct path and
 * the properties whose change forces a replacement: when such a property changes, so does the name, and the
 * replacement succeeds. The cache cluster itself keeps its stable name on purpose (docs/DEPLOY.md): replacing
 * it would empty it, so a change that forces its replacement fails instead of losing the jobs.
 */
import { createHash } from 'node:crypto';
import { Aws, Fn, Stack } from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** MemoryDB and ElastiCache names and ids: at most 40 characters for users, ACLs and user groups. */
export const MAX_CHILD_NAME_LENGTH = 40;

/**
 * `tickset-<kind>-<12 hex>`: lowercase, starts with a letter, no double or trailing hyphen, at most 40
 * characters. `replacementKey` holds the values of the properties that force a replacement of the resource.
 */
export function childName(scope: Construct, kind: string, replacementKey: unknown = null): string {
  if (!/^[a-z][a-z0-9]*$/.test(kind)) throw new Error(`childName: bad kind ${kind}`);
  const stack = Stack.of(scope);
  const hash = createHash('sha256')
    .update(JSON.stringify([stack.stackName, scope.node.path, kind, replacementKey]))
    .digest('hex')
    .slice(0, 12);
  const name = `tickset-${kind}-${hash}`;
  if (name.length > MAX_CHILD_NAME_LENGTH) throw new Error(`childName: ${name} is longer than 40 characters`);
  return name;
}

/**
 * The name of a final snapshot, unique per stack *instance*: `tickset-final-<the UUID of the stack id>`.
 * A stack deleted and deployed again under the same name gets a new UUID, so its final snapshot does not
 * collide with the one the first deletion left behind (a collision would make the deletion fail).
 */
export function finalSnapshotName(): string {
  // AWS::StackId is arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>
  return Fn.join('', ['tickset-final-', Fn.select(2, Fn.split('/', Aws.STACK_ID))]);
}

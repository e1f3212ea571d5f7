/**
 * Cache credentials shared by the engine builders: a generated secret (plain token or JSON
 * `{"username","password"}`, both forms `Scheduler.fromEnv()` reads) and the RBAC access string.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';

/**
 * Rights of tickset's cache user: every key and pub/sub channel (keys are namespaced by hash tag, the tick's
 * wake-up uses pub/sub), all commands except the dangerous ones (FLUSHALL, KEYS, CONFIG, ...), plus INFO for
 * ioredis' ready check.
 */
export const ACCESS_STRING = 'on ~* &* +@all -@dangerous +info';

/** A generated password for an RBAC user, stored as JSON `{"username", "password"}`. */
export function credentialsSecret(
  scope: Construct,
  username: string,
  removalPolicy: RemovalPolicy,
): secretsmanager.Secret {
  const secret = new secretsmanager.Secret(scope, 'Credentials', {
    description: 'tickset: cache user and password, read by Scheduler.fromEnv() at cold start',
    generateSecretString: {
      secretStringTemplate: JSON.stringify({ username }),
      generateStringKey: 'password',
      excludePunctuation: true,
      passwordLength: 64,
    },
    removalPolicy,
  });
  acknowledgeSecretRotation(secret);
  return secret;
}

/** The password as a CloudFormation dynamic reference (never in the template in clear). */
export function passwordOf(secret: secretsmanager.ISecret): string {
  return secret.secretValueFromJson('password').unsafeUnwrap();
}

export function acknowledgeSecretRotation(secret: secretsmanager.ISecret): void {
  Validations.of(secret).acknowledge({
    id: 'AwsSolutions-SMG4',
    reason:
      'The cache password is read once per Lambda cold start and must change in the cache and the secret ' +
      'together (two-password rotation of the RBAC user or AUTH token rotate strategy); rotate it as a ' +
      'planned operation (docs/DEPLOY.md) rather than on a schedule that would break warm connections.',
  });
}

/**
 * The removal policy of a cache secret: a secret cannot be snapshotted, so SNAPSHOT deletes it (a cache
 * restored from the snapshot gets new credentials); RETAIN keeps it with the retained cache.
 */
export function secretRemovalPolicy(policy: RemovalPolicy): RemovalPolicy {
  return policy === RemovalPolicy.SNAPSHOT ? RemovalPolicy.DESTROY : policy;
}

/**
 * The DeletionPolicy of a MemoryDB cluster or a serverless cache: CloudFormation ignores Snapshot on those
 * types (their final snapshot is the `FinalSnapshotName` property), so SNAPSHOT becomes Delete plus that
 * property.
 */
export function dataRemovalPolicy(policy: RemovalPolicy): RemovalPolicy {
  return policy === RemovalPolicy.SNAPSHOT ? RemovalPolicy.DESTROY : policy;
}

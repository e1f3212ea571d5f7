/**
 * IAM authentication tokens for ElastiCache and MemoryDB (Valkey / Redis OSS 7+): the password of an RBAC
 * user whose authentication mode is IAM. A token is a SigV4-presigned `GET` of
 * `https://<cache name>/?Action=connect&User=<user id>` (ElastiCache Serverless adds
 * `&ResourceType=ServerlessCache`), signed locally for service `elasticache` or `memorydb`, valid for 900 s,
 * with the `https://` cut off. The signature comes from `@smithy/signature-v4` (the AWS SDK's own signer,
 * with its SHA-256 from `@smithy/core/checksum`); only the order of the query string is set here, to be the
 * one botocore's presigner writes (operation parameters, then the X-Amz-* parameters, then the signature),
 * so that the token is byte for byte the one botocore makes (test/redis/iam-token.test.ts checks it).
 */
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { ValidationError } from '../errors.js';

/** Seconds a token is valid for: ElastiCache and MemoryDB accept at most 15 minutes. */
export const IAM_TOKEN_EXPIRES_SECONDS = 900;

export type IamAuthService = 'elasticache' | 'memorydb';

export interface IamAuthTokenOptions {
  /**
   * ElastiCache: the replication group id (node-based) or the serverless cache name. MemoryDB: the cluster
   * name. Not the endpoint host.
   */
  readonly cacheName: string;
  /** The RBAC user id. ElastiCache IAM users must have user name = user id; the token names the id. */
  readonly userId: string;
  /** AWS region of the cache, e.g. `us-east-1`. */
  readonly region: string;
  /** `elasticache` (default) or `memorydb`. */
  readonly service?: IamAuthService;
  /** ElastiCache Serverless: adds `ResourceType=ServerlessCache`. Not valid with `memorydb`. @default false */
  readonly serverless?: boolean;
  /** AWS credentials or a provider of them (e.g. `defaultProvider()` of `@aws-sdk/credential-provider-node`). */
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Current time in ms since the epoch: the token's signing time. @default Date.now */
  readonly clock?: () => number;
}

/** Signs a new token at each call. */
export type IamAuthTokenSigner = () => Promise<string>;

/** RFC 3986 encoding as botocore's `percent_encode` does it (only `A-Za-z0-9-_.~` left as they are). */
function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Validates the options and returns a function that signs a fresh token on every call. */
export function iamAuthTokenSigner(options: IamAuthTokenOptions): IamAuthTokenSigner {
  const service = options.service ?? 'elasticache';
  if (!options.cacheName)
    throw new ValidationError('cacheName', options.cacheName, 'the cache or cluster name');
  if (!options.userId) throw new ValidationError('userId', options.userId, 'the RBAC user id');
  if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(options.region ?? '')) {
    throw new ValidationError('region', options.region, 'an AWS region such as us-east-1 (AWS_REGION)');
  }
  if (service !== 'elasticache' && service !== 'memorydb') {
    throw new ValidationError('service', service, '"elasticache" or "memorydb"');
  }
  if (options.serverless && service !== 'elasticache') {
    throw new ValidationError(
      'serverless',
      true,
      'false for MemoryDB (serverless caches are ElastiCache only)',
    );
  }
  const clock = options.clock ?? Date.now;
  const signer = new SignatureV4({
    service,
    region: options.region,
    credentials: options.credentials,
    sha256: Sha256,
  });
  const operation: Array<[string, string]> = [
    ['Action', 'connect'],
    ['User', options.userId],
    ...(options.serverless ? ([['ResourceType', 'ServerlessCache']] as Array<[string, string]>) : []),
  ];
  const authOrder = [
    'X-Amz-Algorithm',
    'X-Amz-Credential',
    'X-Amz-Date',
    'X-Amz-Expires',
    'X-Amz-SignedHeaders',
    'X-Amz-Security-Token',
  ];
  return async () => {
    const signed = await signer.presign(
      {
        method: 'GET',
        protocol: 'https:',
        hostname: options.cacheName,
        path: '/',
        query: Object.fromEntries(operation),
        headers: { host: options.cacheName },
      },
      { expiresIn: IAM_TOKEN_EXPIRES_SECONDS, signingDate: new Date(clock()) },
    );
    const query = signed.query as Record<string, string>;
    const parts = [
      ...operation.map(([name, value]) => `${encode(name)}=${encode(value)}`),
      ...authOrder
        .filter((name) => query[name] !== undefined)
        .map((name) => `${name}=${encode(query[name]!)}`),
      `X-Amz-Signature=${query['X-Amz-Signature']}`,
    ];
    return `${options.cacheName}/?${parts.join('&')}`;
  };
}

/**
 * The IAM auth token signer against botocore's presigner as the oracle: the same credentials, cache, user,
 * region and signing time must give the same token, byte for byte. botocore runs in python3 (a child
 * process); the time is fixed there by patching `botocore.auth.get_current_datetime`.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { type IamAuthTokenOptions, iamAuthTokenSigner } from '../../src/redis/iam-token.js';

const ORACLE = String.raw`
import datetime, json, sys
from unittest import mock
from urllib.parse import urlencode
try:
    import botocore.auth
    from botocore.credentials import Credentials
    from botocore.hooks import HierarchicalEmitter
    from botocore.model import ServiceId
    from botocore.signers import RequestSigner
except ImportError as error:
    sys.stderr.write("botocore is not installed for python3: %s\n" % error)
    sys.exit(3)
out = []
for case in json.load(sys.stdin):
    creds = Credentials(case["accessKeyId"], case["secretAccessKey"], case.get("sessionToken"))
    emitter = HierarchicalEmitter()  # RequestSigner keeps only a weak reference to it
    signer = RequestSigner(ServiceId(case["service"]), case["region"], case["service"], "v4", creds, emitter)
    params = {"Action": "connect", "User": case["userId"]}
    if case.get("serverless"):
        params["ResourceType"] = "ServerlessCache"
    url = "https://" + case["cacheName"] + "/?" + urlencode(params)
    now = datetime.datetime.fromtimestamp(case["timeMs"] / 1000, datetime.timezone.utc).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        signed = signer.generate_presigned_url(
            {"method": "GET", "url": url, "body": {}, "headers": {}, "context": {}},
            operation_name="connect", expires_in=900, region_name=case["region"])
    out.append(signed[len("https://"):])
json.dump(out, sys.stdout)
`;

interface Case {
  readonly name: string;
  readonly options: Omit<IamAuthTokenOptions, 'credentials' | 'clock'>;
  readonly credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  readonly timeMs: number;
}

const KEYS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const CASES: readonly Case[] = [
  {
    name: 'ElastiCache node-based (replication group)',
    options: { cacheName: 'tickset-cache', userId: 'tickset-app', region: 'us-east-1' },
    credentials: KEYS,
    timeMs: Date.UTC(2026, 0, 2, 3, 4, 5),
  },
  {
    name: 'ElastiCache with a session token (a Lambda role) and a user id that needs encoding',
    options: { cacheName: 'my-group-01', userId: 'app user+1/ü', region: 'eu-west-3' },
    credentials: { ...KEYS, sessionToken: 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ==' },
    timeMs: Date.UTC(2025, 11, 31, 23, 59, 59),
  },
  {
    name: 'ElastiCache Serverless',
    options: {
      cacheName: 'tickset-serverless',
      userId: 'tickset-app',
      region: 'us-west-2',
      serverless: true,
    },
    credentials: { ...KEYS, sessionToken: 'token-value' },
    timeMs: Date.UTC(2026, 5, 15, 12, 0, 0),
  },
  {
    name: 'MemoryDB',
    options: {
      cacheName: 'tickset-memorydb',
      userId: 'tickset-app',
      region: 'ap-southeast-2',
      service: 'memorydb',
    },
    credentials: KEYS,
    timeMs: Date.UTC(2026, 2, 1, 0, 0, 1),
  },
];

function oracle(cases: readonly Case[]): string[] {
  const input = cases.map((c) => ({
    ...c.credentials,
    ...c.options,
    service: c.options.service ?? 'elasticache',
    timeMs: c.timeMs,
  }));
  try {
    const out = execFileSync('python3', ['-c', ORACLE], { input: JSON.stringify(input), encoding: 'utf8' });
    return JSON.parse(out) as string[];
  } catch (error) {
    const { stderr, code } = error as { stderr?: string; code?: string };
    throw new Error(
      `the botocore oracle could not run (python3 with botocore is required for this test: ` +
        `pip install botocore): ${code ?? ''} ${stderr ?? (error as Error).message}`,
    );
  }
}

describe('iamAuthTokenSigner', () => {
  it('signs the token botocore presigns, byte for byte (node-based, session token, serverless, MemoryDB)', async () => {
    const expected = oracle(CASES);
    const ours = await Promise.all(
      CASES.map((c) =>
        iamAuthTokenSigner({ ...c.options, credentials: c.credentials, clock: () => c.timeMs })(),
      ),
    );
    for (let i = 0; i < CASES.length; i++) {
      expect(ours[i], CASES[i]!.name).toBe(expected[i]);
    }
    expect(ours[2]).toContain('ResourceType=ServerlessCache');
    expect(ours[3]).toContain('%2Fmemorydb%2Faws4_request');
    expect(ours[0]!.startsWith('tickset-cache/?Action=connect&User=tickset-app&X-Amz-Algorithm=')).toBe(true);
  });

  it('signs a new token for a new time, and reads credentials from a provider at each call', async () => {
    let now = Date.UTC(2026, 0, 1);
    let calls = 0;
    const sign = iamAuthTokenSigner({
      cacheName: 'c',
      userId: 'u',
      region: 'us-east-1',
      credentials: async () => {
        calls++;
        return KEYS;
      },
      clock: () => now,
    });
    const first = await sign();
    now += 1_000;
    const second = await sign();
    expect(second).not.toBe(first);
    expect(calls).toBe(2);
  });

  it('rejects what cannot make a valid token', () => {
    const base = { cacheName: 'c', userId: 'u', region: 'us-east-1', credentials: KEYS };
    expect(() => iamAuthTokenSigner({ ...base, cacheName: '' })).toThrow(ValidationError);
    expect(() => iamAuthTokenSigner({ ...base, userId: '' })).toThrow(ValidationError);
    expect(() => iamAuthTokenSigner({ ...base, region: '' })).toThrow(/AWS_REGION/);
    expect(() => iamAuthTokenSigner({ ...base, service: 'memorydb', serverless: true })).toThrow(
      ValidationError,
    );
  });
});

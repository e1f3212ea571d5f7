/**
 * CDK app entry (cdk.json): `npx cdk synth` works offline, without credentials or Docker. The stack is
 * environment-agnostic; `cdk deploy` deploys it to the account and region of your credentials.
 * `npx cdk deploy -c alarmEmail=ops@example.com` subscribes an address to the alarm topic.
 */
import { createSampleApp } from './sample-stack.js';

createSampleApp().app.synth();

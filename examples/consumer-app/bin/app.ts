/** CDK app entry (cdk.json): `npx cdk synth` works offline, with no credentials and no Docker. */
import { App } from 'aws-cdk-lib';
import { RemindersStack } from '../lib/reminders-stack.js';

const app = new App();
new RemindersStack(app, 'Reminders');
app.synth();

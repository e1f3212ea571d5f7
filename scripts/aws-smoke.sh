#!/usr/bin/env bash
# Real-AWS smoke test of the sample stack, for users with an AWS account (CI has none; it runs the emulated
# end-to-end test instead, test/aws/deployed.test.ts). Costs a little money while the stack exists (about
# 20 minutes deploy, a few minutes of checks, about 10 minutes destroy). See docs/DEPLOY.md.
#
#   AWS_PROFILE=... AWS_REGION=... scripts/aws-smoke.sh            # deploy, check, destroy
#   KEEP=1 scripts/aws-smoke.sh                                     # leave the stack deployed
#
# Checks: (1) an alarm forced with `aws cloudwatch set-alarm-state` reaches a subscription of the alarm
# topic (a temporary SQS queue); (2) the producer schedules a reminder and the send-reminder handler logs
# `reminder sent`. Needs: aws CLI v2, jq, node/npm (`npm ci` done), credentials that may deploy stacks.
set -euo pipefail
cd "$(dirname "$0")/.."
STACK=TicksetSample
mkdir -p .tmp
for tool in aws jq npx; do command -v "$tool" >/dev/null || { echo "missing: $tool" >&2; exit 2; }; done
aws sts get-caller-identity >/dev/null

queue_url=""
cleanup() {
  if [ -n "$queue_url" ]; then aws sqs delete-queue --queue-url "$queue_url" || true; fi
  if [ "${KEEP:-0}" != 1 ]; then
    echo "== destroying $STACK"
    npx cdk destroy "$STACK" --force
  fi
}
trap cleanup EXIT

echo "== deploying $STACK (about 20 minutes)"
npx cdk deploy "$STACK" --require-approval never --outputs-file .tmp/smoke-outputs.json
topic=$(jq -r ".$STACK.AlarmTopicArn" .tmp/smoke-outputs.json)
producer=$(jq -r ".$STACK.ProducerFunctionName" .tmp/smoke-outputs.json)

echo "== 1. an alarm notification reaches the topic's subscription"
queue_url=$(aws sqs create-queue --queue-name "tickset-smoke-$(date +%s)" --query QueueUrl --output text)
queue_arn=$(aws sqs get-queue-attributes --queue-url "$queue_url" --attribute-names QueueArn --query Attributes.QueueArn --output text)
policy=$(jq -nc --arg q "$queue_arn" --arg t "$topic" '{Version:"2012-10-17",Statement:[{Effect:"Allow",Principal:{Service:"sns.amazonaws.com"},Action:"sqs:SendMessage",Resource:$q,Condition:{ArnEquals:{"aws:SourceArn":$t}}}]}')
aws sqs set-queue-attributes --queue-url "$queue_url" --attributes "$(jq -nc --arg p "$policy" '{Policy:$p}')"
aws sns subscribe --topic-arn "$topic" --protocol sqs --notification-endpoint "$queue_arn" >/dev/null
alarm=$(aws cloudwatch describe-alarms --alarm-name-prefix "$STACK" --query "MetricAlarms[?contains(AlarmName, 'TickErrors')].AlarmName | [0]" --output text)
aws cloudwatch set-alarm-state --alarm-name "$alarm" --state-value ALARM --state-reason "tickset smoke test"
found=""
for _ in $(seq 1 30); do
  body=$(aws sqs receive-message --queue-url "$queue_url" --wait-time-seconds 10 --query 'Messages[0].Body' --output text)
  if [ "$body" != "None" ] && echo "$body" | grep -q "$alarm"; then found=yes; break; fi
done
aws cloudwatch set-alarm-state --alarm-name "$alarm" --state-value OK --state-reason "tickset smoke test done"
[ -n "$found" ] || { echo "FAIL: no notification for $alarm reached the subscription" >&2; exit 1; }
echo "ok: $alarm notified the topic's subscription"

echo "== 2. producer -> tick -> EventBridge -> send-reminder"
user=$((RANDOM + 100000))
aws lambda invoke --function-name "$producer" --cli-binary-format raw-in-base64-out \
  --payload "{\"action\":\"remind\",\"userId\":$user,\"delayMs\":5000}" .tmp/smoke-producer.json >/dev/null
cat .tmp/smoke-producer.json; echo
handler=$(aws cloudformation describe-stack-resources --stack-name "$STACK" \
  --query "StackResources[?ResourceType=='AWS::Lambda::Function' && starts_with(LogicalResourceId, 'SendReminder')].PhysicalResourceId | [0]" --output text)
log_group=$(aws lambda get-function-configuration --function-name "$handler" --query LoggingConfig.LogGroup --output text)
found=""
for _ in $(seq 1 36); do
  if aws logs filter-log-events --log-group-name "$log_group" --filter-pattern "\"reminder sent\"" \
      --query 'events[].message' --output text | grep -q "\"userId\":$user"; then found=yes; break; fi
  sleep 5
done
[ -n "$found" ] || { echo "FAIL: send-reminder did not log 'reminder sent' for user $user within 3 minutes" >&2; exit 1; }
echo "ok: send-reminder logged 'reminder sent' for user $user"
echo "== smoke test passed"

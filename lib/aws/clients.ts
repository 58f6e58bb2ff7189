// One client per container: clients hold connection pools and resolved credentials, so building one per
// request would repeat that work on every invocation.
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { config } from '../config.ts';

// The SDK default is 3 attempts with no request timeout; a degraded AWS dependency would then hold a
// request for as long as the Lambda timeout allows. Two short attempts bound the damage to a few seconds.
const clientOptions = {
  region: config.region,
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 1000, requestTimeout: 3000 },
};

let secretsManagerClient: SecretsManagerClient | undefined;
let eventBridgeClient: EventBridgeClient | undefined;

export function secretsManager(): SecretsManagerClient {
  secretsManagerClient ??= new SecretsManagerClient(clientOptions);
  return secretsManagerClient;
}

export function eventBridge(): EventBridgeClient {
  eventBridgeClient ??= new EventBridgeClient(clientOptions);
  return eventBridgeClient;
}

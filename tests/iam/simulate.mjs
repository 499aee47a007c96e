// Evaluates IAM requests against policies with @cloud-copilot/iam-simulate, an implementation of
// AWS's policy evaluation logic (explicit deny, allow, implicit deny, permissions boundaries,
// every condition operator). Reads one JSON document on stdin:
//   {principal, account, identityPolicies: {name: policy}, boundary: policy|null,
//    requests: [{action, resource, context}]}
// and prints one JSON array: per request, the overall result (Allowed, ExplicitlyDenied,
// ImplicitlyDenied) or the simulator's error.
import { runSimulation } from '@cloud-copilot/iam-simulate';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const identityPolicies = Object.entries(input.identityPolicies).map(([name, policy]) => ({ name, policy }));
const results = [];
for (const request of input.requests) {
  const simulation = {
    request: {
      principal: input.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: input.account },
      contextVariables: request.context ?? {},
    },
    identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(input.boundary ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: input.boundary }] } : {}),
  };
  const outcome = await runSimulation(simulation, { simulationMode: 'Strict' });
  results.push(
    outcome.resultType === 'error'
      ? { error: outcome.errors.message, detail: outcome.errors }
      : { result: outcome.overallResult, ignored: outcome.result?.ignoredContextKeys ?? [] },
  );
}
process.stdout.write(JSON.stringify(results));

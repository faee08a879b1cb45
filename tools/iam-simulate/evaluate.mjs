// Reads a JSON array of simulations on stdin and prints a JSON array of results:
// {"decision": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Error", "errors": ...}.
// Each simulation is {principal, action, resource, accountId, context, identityPolicies,
// resourcePolicy?}; see smartstack/infra/isolation.py, which builds them.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const results = []
for (const c of cases) {
  const simulation = {
    request: {
      principal: c.principal,
      action: c.action,
      resource: { resource: c.resource, accountId: c.accountId },
      contextVariables: c.context ?? {}
    },
    identityPolicies: c.identityPolicies.map((policy, i) => ({ name: `policy${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: c.resourcePolicy ?? undefined
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    results.push({ decision: 'Error', errors: response.errors })
  } else {
    results.push({ decision: response.overallResult })
  }
}
process.stdout.write(JSON.stringify(results))

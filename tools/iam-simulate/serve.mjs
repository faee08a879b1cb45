// The local AWS's IAM decisions, as a long-running process (smartstack/local/iam/evaluator.py).
//
// JSON lines on stdin, one answer line per request on stdout, in the order received:
//   request  {id, principal, action, resource, accountId, context,
//             identityPolicies: [ref], permissionBoundaries?: [ref] | null,
//             resourcePolicy?: ref | null, sessionPolicy?: ref | null,
//             define?: {ref: policyDocument}}
//   answer   {id, decision: "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied" | "Error",
//             reasons?: [{policyType, denialType, statementId?}], error?}
// A policy is sent once (in `define`) and referred to by its ref afterwards: this process
// keeps each one validated, so a request costs only the evaluation itself.  The same
// simulation as evaluate.mjs (the batch evaluator of the isolation matrix) otherwise.
import { createInterface } from 'node:readline'
import { getDenialReasons, runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'
import {
  createValidatedPolicy,
  validateIdentityPolicy,
  validateResourcePolicy
} from '@cloud-copilot/iam-policy'

const documents = new Map() // ref -> policy document
const validated = new Map() // kind + ref -> ValidatedPolicy
const MAX_POLICIES = 20000

function policy(kind, ref) {
  const key = `${kind}:${ref}`
  let found = validated.get(key)
  if (found === undefined) {
    const document = documents.get(ref)
    if (document === undefined) throw new Error(`unknown policy ref ${ref}`)
    const validate = kind === 'resource' ? validateResourcePolicy : validateIdentityPolicy
    found = createValidatedPolicy(document, validate)
    validated.set(key, found)
  }
  return found
}

function define(definitions) {
  if (documents.size > MAX_POLICIES) {
    documents.clear()
    validated.clear()
  }
  for (const [ref, document] of Object.entries(definitions ?? {})) documents.set(ref, document)
}

async function decide(r) {
  define(r.define)
  const simulation = {
    request: {
      principal: r.principal,
      action: r.action,
      resource: { resource: r.resource, accountId: r.accountId },
      contextVariables: r.context ?? {}
    },
    identityPolicies: (r.identityPolicies ?? []).map((ref, i) => ({
      name: `policy${i}`,
      policy: policy('identity', ref)
    })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: r.resourcePolicy ? policy('resource', r.resourcePolicy) : undefined
  }
  if (r.permissionBoundaries) {
    simulation.permissionBoundaryPolicies = r.permissionBoundaries.map((ref, i) => ({
      name: `boundary${i}`,
      policy: policy('identity', ref)
    }))
  }
  if (r.sessionPolicy) simulation.sessionPolicy = policy('identity', r.sessionPolicy)
  if (r.action === WEB_IDENTITY) return webIdentity(r.id, simulation)
  if (Object.keys(simulation.request.contextVariables).some((k) => UNLISTED_KEY.test(k))) {
    return unlisted(r.id, simulation)
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    if (response.errors?.message === 'no.resource.types' && UNLISTED.test(r.action)) {
      return unlisted(r.id, simulation)
    }
    return { id: r.id, decision: 'Error', error: response.errors }
  }
  const answer = { id: r.id, decision: response.overallResult }
  if (answer.decision !== 'Allowed' && response.resultType === 'single') {
    const analysis = response.result.analysis
    const reasons = getDenialReasons(analysis).map((d) => ({
      policyType: d.policyType,
      denialType: d.denialType,
      ...(d.statementId ? { statementId: d.statementId } : {})
    }))
    if (analysis.sessionAnalysis && analysis.sessionAnalysis.result !== 'Allowed') {
      reasons.push({ policyType: 'session', denialType: analysis.sessionAnalysis.result === 'ExplicitlyDenied' ? 'Explicit' : 'Implicit' })
    }
    answer.reasons = reasons
  }
  return answer
}

// API Gateway's HTTP API paths (/apis/...) are resources of apigateway:<METHOD> on AWS, but
// the bundled authorization reference lists only the REST API paths for those actions, so
// the validating simulation refuses them (no.resource.types).  They are evaluated without
// that validation; the policies were validated when they were loaded.
const UNLISTED = /^apigateway:(GET|POST|PUT|PATCH|DELETE)$/

// The same for KMS's encryption context keys (kms:EncryptionContext:aws:s3:arn, ...): their
// variable part follows a colon, which the reference's lookup does not match, so the
// validating simulation would drop them and every condition on them would fail.
const UNLISTED_KEY = /^kms:encryptioncontext:/i

function unlisted(id, simulation) {
  const resourcePolicy = simulation.resourcePolicy && { ...simulation.resourcePolicy, metadata: { name: 'resource' } }
  const run = (identityPolicies, boundaries) =>
    runUnsafeSimulation({ ...simulation, resourcePolicy, identityPolicies, permissionBoundaryPolicies: boundaries }, {})
  let decision = run(simulation.identityPolicies, simulation.permissionBoundaryPolicies)
  const reasons = []
  if (decision === 'Allowed' && simulation.sessionPolicy) {
    const session = run([{ name: 'session', policy: simulation.sessionPolicy }], undefined)
    if (session !== 'Allowed') {
      decision = session
      reasons.push({ policyType: 'session', denialType: session === 'ExplicitlyDenied' ? 'Explicit' : 'Implicit' })
    }
  } else if (decision !== 'Allowed') {
    const identityOnly = run(simulation.identityPolicies, undefined)
    const explicit = decision === 'ExplicitlyDenied'
    const byIdentity = explicit ? identityOnly === 'ExplicitlyDenied' : identityOnly !== 'Allowed'
    reasons.push({ policyType: byIdentity ? 'identity' : 'pb', denialType: explicit ? 'Explicit' : 'Implicit' })
  }
  return decision === 'Allowed' ? { id, decision } : { id, decision, reasons }
}

// A web identity's claims are condition keys named after its provider
// (token.actions.githubusercontent.com:sub, ...:aud): IAM's generic OIDC keys, which the
// bundled authorization reference does not list, so the validating simulation would drop
// them from the context and every trust condition on them would fail.  The trust policy
// (the only policy of this decision) was validated when it was loaded.
const WEB_IDENTITY = 'sts:AssumeRoleWithWebIdentity'

function webIdentity(id, simulation) {
  const trust = simulation.resourcePolicy && { ...simulation.resourcePolicy, metadata: { name: 'trust' } }
  const decision = runUnsafeSimulation({ ...simulation, resourcePolicy: trust }, {})
  if (decision === 'Allowed') return { id, decision }
  const denialType = decision === 'ExplicitlyDenied' ? 'Explicit' : 'Implicit'
  return { id, decision, reasons: [{ policyType: 'resource', denialType }] }
}

// One request at a time, in order: the answers come back in the order asked.
let queue = Promise.resolve()
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
lines.on('line', (line) => {
  if (!line.trim()) return
  queue = queue.then(async () => {
    let answer
    let id = null
    try {
      const request = JSON.parse(line)
      id = request.id ?? null
      answer = await decide(request)
    } catch (error) {
      answer = { id, decision: 'Error', error: { message: String(error?.message ?? error) } }
    }
    process.stdout.write(JSON.stringify(answer) + '\n')
  })
})
lines.on('close', () => {
  queue.then(() => process.exit(0))
})

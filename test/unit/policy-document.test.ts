import t, { type Test } from 'tap'
import { isPortcullisError } from '../../src/errors'
import { parsePolicyDocument, policyDocumentFromRecord } from '../../src/policy/authorization/document'

/**
 * Validation of policy documents as the admin API receives them (DESIGN §4 `PUT
 * /v1/policies/{name}`). Every refusal is VALIDATION_FAILED and its message names the place
 * (`statements.<i>.actions.<j>`) and the bad value, so an operator can fix the document.
 */

const statement = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  effect: 'Allow', actions: ['mqtt:Publish'], resources: ['mqtt:prod:topic/a'], ...over,
})
const body = (...statements: unknown[]): unknown => ({ statements })

function refused(t: Test, name: string, input: unknown, mentions: readonly (string | RegExp)[], what: string): void {
  try {
    parsePolicyDocument(name, input)
    t.fail(`${what}: accepted`)
  } catch (err) {
    t.ok(isPortcullisError(err, 'VALIDATION_FAILED'), `${what}: VALIDATION_FAILED (got ${(err as Error).message})`)
    for (const m of mentions) t.match((err as Error).message, m, `${what}: names ${String(m)}`)
  }
}

t.test('well-formed documents are accepted as they were written', async (t) => {
  const accepted: Array<[string, unknown[]]> = [
    ['the fleet policy', [
      statement({ resources: ['mqtt:prod:topic/devices/${certCommonName}/#'] }),
      statement({ actions: ['mqtt:Subscribe', 'mqtt:Receive'], resources: ['mqtt:prod:topic/commands/${certCommonName}'] }),
    ]],
    ['admin:List* and a Deny', [statement({ actions: ['admin:RevokeDevice', 'admin:List*'], resources: ['*'] }), statement({ effect: 'Deny', actions: ['admin:*'], resources: ['admin:instances/prod'] })]],
    ['every action', [statement({ actions: ['*', 'mqtt:*', 'amqp:*', 'admin:*'] })]],
    ['every known variable', [statement({ resources: ['mqtt:prod:topic/${clientId}/${username}/${certCommonName}/${deviceId}/${accessKeyId}'] })]],
    ['MQTT wildcards as whole levels', [statement({ resources: ['mqtt:prod:topic/a/+/b/#', 'mqtt:prod:topic/#', 'mqtt:prod:topic/+', 'mqtt:*:topic/+/x'] })]],
    ['`*` anywhere', [statement({ resources: ['mqtt:prod:topic/a*', 'mqtt:*', 'mqtt:prod:topic/*/x'] })]],
    ['`+` and `#` in AMQP names are ordinary characters', [statement({ actions: ['amqp:Publish'], resources: ['amqp:prod:/:exchange/a+b#c'] })]],
    ['a variable inside a level', [statement({ resources: ['mqtt:prod:topic/dev-${clientId}/out'] })]],
    ['100 statements of 50 actions and 50 resources', Array.from({ length: 100 }, () => statement({ actions: Array(50).fill('mqtt:Publish'), resources: Array(50).fill('x'.repeat(512)) }))],
  ]
  for (const [what, statements] of accepted) {
    const document = parsePolicyDocument('fleet', body(...statements))
    t.same(document, { name: 'fleet', statements }, what)
  }
})

t.test('the parsed document is frozen', async (t) => {
  const document = parsePolicyDocument('fleet', body(statement()))
  t.ok(Object.isFrozen(document) && Object.isFrozen(document.statements) && Object.isFrozen(document.statements[0]) && Object.isFrozen(document.statements[0]?.actions))
})

t.test('policy names: letters, digits and _ . + = @ -, at most 128, starting with a letter or digit', async (t) => {
  for (const name of ['ops', 'fleet.v2', 'a@b=c+d-e_f', '7', 'x'.repeat(128)]) {
    t.equal(parsePolicyDocument(name, body(statement())).name, name, `${name.slice(0, 20)} accepted`)
  }
  for (const name of ['', '-ops', '.ops', 'a/b', 'a b', 'ops!', 'x'.repeat(129), 'ünï']) {
    refused(t, name, body(statement()), [/policy name/], `name ${JSON.stringify(name.slice(0, 20))}`)
  }
})

t.test('the shape of the body: strict objects, 1..100 statements, 1..50 entries, strings of at most 512', async (t) => {
  const cases: Array<[string, unknown, (string | RegExp)[]]> = [
    ['no body', undefined, [/\(body\)/]],
    ['an array body', [statement()], [/\(body\)/]],
    ['no statements', {}, [/statements/]],
    ['an unknown top-level key', { statements: [statement()], name: 'x' }, [/name/]],
    ['empty statements', body(), [/statements/]],
    ['101 statements', body(...Array.from({ length: 101 }, () => statement())), [/statements/]],
    ['an unknown statement key', body(statement({ Sid: 'one' })), [/statements\.0/, /Sid/]],
    ['an effect in lower case', body(statement({ effect: 'allow' })), [/statements\.0\.effect/]],
    ['no effect', body({ actions: ['mqtt:Publish'], resources: ['x'] }), [/statements\.0\.effect/]],
    ['no actions', body(statement({ actions: [] })), [/statements\.0\.actions/]],
    ['51 actions', body(statement({ actions: Array(51).fill('mqtt:Publish') })), [/statements\.0\.actions/]],
    ['no resources', body(statement({ resources: [] })), [/statements\.0\.resources/]],
    ['51 resources', body(statement({ resources: Array(51).fill('x') })), [/statements\.0\.resources/]],
    ['an empty resource', body(statement({ resources: [''] })), [/statements\.0\.resources\.0/]],
    ['a resource of 513 characters', body(statement({ resources: ['x'.repeat(513)] })), [/statements\.0\.resources\.0/]],
    ['an action that is not a string', body(statement({ actions: [42] })), [/statements\.0\.actions\.0/]],
  ]
  for (const [what, input, mentions] of cases) refused(t, 'p', input, mentions, what)
})

t.test('actions: * or <service>:<name>, a known action, or a pattern that matches one', async (t) => {
  const cases: Array<[string, string, (string | RegExp)[]]> = [
    ['a misspelt action', 'mqtt:Publsh', ['unknown action "mqtt:Publsh"']],
    ['an action in the wrong case', 'mqtt:publish', ['unknown action "mqtt:publish"']],
    ['an unknown service', 'iot:Publish', ['"iot:Publish"', /mqtt, amqp, admin/]],
    ['no service', 'Publish', ['"Publish"']],
    ['a service with no name', 'mqtt:', ['"mqtt:"']],
    ['a wildcard service', '*:Publish', ['"*:Publish"']],
    ['a pattern that matches no known action', 'mqtt:Pub*x', ['"mqtt:Pub*x"', 'no known mqtt action']],
    ['an admin verb on the wrong service', 'amqp:List*', ['"amqp:List*"', 'no known amqp action']],
    ['an admin action that does not exist', 'admin:Frobnicate*', ['"admin:Frobnicate*"']],
  ]
  for (const [what, action, mentions] of cases) {
    refused(t, 'p', body(statement(), statement(), statement({ actions: ['mqtt:Publish', action] })), [/statements\.2\.actions\.1/, ...mentions], what)
  }
})

t.test('resources: known variables only, closed, and MQTT wildcards as whole levels (MQTT §4.7.1)', async (t) => {
  const cases: Array<[string, string, (string | RegExp)[]]> = [
    ['an unknown variable', 'mqtt:prod:topic/${inst}/x', ['${inst}', /known: clientId, username, certCommonName, deviceId, accessKeyId/]],
    ['a variable in the wrong case', 'mqtt:prod:topic/${clientid}', ['${clientid}']],
    ['an unterminated variable', 'mqtt:prod:topic/${clientId', ['unterminated', '"mqtt:prod:topic/${clientId"']],
    ['an empty variable', 'mqtt:prod:topic/${}', ['${}']],
    ['`+` inside a level', 'mqtt:prod:topic/a+', [`'+' must be a whole topic level`, '"mqtt:prod:topic/a+"']],
    ['`+` beside a variable', 'mqtt:prod:topic/${clientId}+', [`'+' must be a whole topic level`]],
    ['`#` not last', 'mqtt:prod:topic/a/#/b', [`'#' must be the whole last topic level`]],
    ['`#` inside a level', 'mqtt:prod:topic/a#', [`'#' must be the whole last topic level`]],
    ['`#` inside the last level', 'mqtt:prod:topic/a/b#', [`'#' must be the whole last topic level`]],
  ]
  for (const [what, resource, mentions] of cases) {
    refused(t, 'p', body(statement(), statement({ resources: ['mqtt:prod:topic/ok', resource] })), [/statements\.1\.resources\.1/, ...mentions], what)
  }
})

t.test('every problem of a document is reported at once', async (t) => {
  refused(t, 'p', body(statement({ actions: ['mqtt:Publsh'] }), statement({ resources: ['mqtt:prod:topic/a+'] })),
    [/statements\.0\.actions\.0: unknown action/, /statements\.1\.resources\.0: '\+'/], 'two bad statements')
})

t.test('an oversized value is refused without being echoed whole', async (t) => {
  const huge = `mqtt:${'x'.repeat(100_000)}`
  try {
    parsePolicyDocument('p', body(statement({ actions: [huge], resources: [`\${${'y'.repeat(100_000)}`] })))
    t.fail('accepted')
  } catch (err) {
    t.ok(isPortcullisError(err, 'VALIDATION_FAILED'))
    t.ok((err as Error).message.length < 1000, `message of ${(err as Error).message.length} characters`)
  }
})

t.test('a stored record becomes a PolicyDocument of its own, frozen and stripped of store fields', async (t) => {
  const record = {
    name: 'fleet', version: 3, createdAt: '2026-03-01T12:00:00.000Z', updatedAt: '2026-03-01T12:00:00.000Z',
    statements: [{ effect: 'Allow' as const, actions: ['mqtt:Publish'], resources: ['mqtt:prod:topic/a'] }],
  }
  const document = policyDocumentFromRecord(record)
  t.same(document, { name: 'fleet', statements: record.statements })
  t.notOk('version' in document, 'no store fields')
  record.statements[0]!.resources.push('*')
  t.same(document.statements[0]?.resources, ['mqtt:prod:topic/a'], 'later changes to the record do not reach the document')
  t.ok(Object.isFrozen(document.statements[0]?.resources))
})

t.test('a damaged stored effect is read as Deny (fail closed)', async (t) => {
  const document = policyDocumentFromRecord({ name: 'p', statements: [{ effect: 'allow' as never, actions: ['*'], resources: ['*'] }] })
  t.equal(document.statements[0]?.effect, 'Deny')
})

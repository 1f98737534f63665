/**
 * RabbitMQ users of the test's own, made with Debian's `rabbitmqctl` on the machine's broker, so
 * a backend password can be something other than guest/guest and be changed on the broker side
 * as an operator would. Each user is deleted when the test ends.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { Test } from './services'

const run = promisify(execFile)

export interface RabbitUser {
  username: string
  password: string
  changePassword(password: string): Promise<void>
}

export async function rabbitmqctlAvailable(t: Test): Promise<boolean> {
  try {
    await run('rabbitmqctl', ['status'], { timeout: 30_000 })
    return true
  } catch (err) {
    const message = `rabbitmqctl cannot reach the local RabbitMQ (${(err as Error).message.split('\n')[0] ?? ''})`
    if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') t.fail(message)
    else {
      process.stderr.write(`\n*** SKIPPED: ${message} ***\n`)
      t.pass('needs rabbitmqctl', { skip: message })
    }
    return false
  }
}

export async function addRabbitUser(t: Test, username: string, password: string): Promise<RabbitUser> {
  await run('rabbitmqctl', ['add_user', username, password], { timeout: 30_000 })
  t.teardown(() => run('rabbitmqctl', ['delete_user', username], { timeout: 30_000 }).then(() => undefined, () => undefined))
  await run('rabbitmqctl', ['set_permissions', '-p', '/', username, '.*', '.*', '.*'], { timeout: 30_000 })
  const user: RabbitUser = {
    username,
    password,
    async changePassword(next) {
      await run('rabbitmqctl', ['change_password', username, next], { timeout: 30_000 })
      user.password = next
    },
  }
  return user
}

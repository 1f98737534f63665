import { loadConfig, readSecrets } from '../../config/load'
import { isAbsolute, join } from 'node:path'
import { parse, str } from '../args'
import { CliError } from '../cli-error'
import type { CommandContext } from './context'

/**
 * `portcullis start [-c FILE]`: runs the gateway until SIGINT/SIGTERM, then stops it gracefully
 * (DESIGN §4 `shutdown`: not ready at once, accept for readinessDelayMs, stop accepting, protocol
 * goodbyes, drainTimeoutMs), and exits 0. A second signal during the stop exits at once. SIGHUP
 * reopens the audit file sinks (logrotate's `postrotate`). The data path is imported here, lazily,
 * so admin commands do not load it.
 */
export async function start(ctx: CommandContext, args: string[]): Promise<number> {
  const parsed = parse(args, {})
  if (parsed.positionals.length > 0) throw new CliError('USAGE', `unexpected argument ${parsed.positionals[0] ?? ''}`)
  const file = str(parsed, 'config')
  const config = loadConfig({ ...(file !== undefined ? { file: isAbsolute(file) ? file : join(ctx.io.cwd, file) } : {}), env: ctx.io.env })
  const secrets = readSecrets(ctx.io.env)
  const { checkClusterConfig, isWorker, runPrimary, workerCount } = await import('../../cluster')
  checkClusterConfig(config)
  if (workerCount(config) > 1 && !isWorker()) {
    const primary = await runPrimary(config, secrets, (line) => ctx.io.stderr.write(`portcullis: ${line}\n`))
    await untilSignal(ctx, () => primary.stop())
    return 0
  }
  const { startGateway } = await import('../../gateway')
  const gateway = await startGateway(config, { secrets })
  ctx.io.stderr.write(`portcullis: admin API on ${gateway.adminUrl}; ${gateway.rootAccessKey.file !== undefined ? `root AccessKey in ${gateway.rootAccessKey.file}` : 'root AccessKey from the environment'}\n`)
  for (const listener of config.listeners) {
    const address = gateway.listenerAddress(listener.name)
    ctx.io.stderr.write(`portcullis: ${listener.protocol} listener ${listener.name} on ${address.address}:${address.port}${listener.tls ? ' (TLS)' : ''}\n`)
  }
  if (gateway.demo !== undefined) {
    ctx.io.stderr.write([
      `portcullis: demo instance "${gateway.demo.instanceId}" on the embedded broker, dev CA registered. Try:`,
      `  ${gateway.demo.subscribeCommand}`,
      `  ${gateway.demo.publishCommand}`,
      '',
    ].join('\n'))
  }
  const offHup = onHangup(ctx, () => gateway.reopenSinks())
  await untilSignal(ctx, () => gateway.stop())
  offHup()
  // A cluster worker's IPC channel would keep it alive after a clean stop.
  if (isWorker()) process.disconnect?.()
  // Everything is closed; a handle some library still holds must not keep a stopped gateway alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref()
  return 0
}

/**
 * SIGHUP: reopen the audit sinks by path. The gateway's `reopenSinks` is one action among those a
 * hang-up may trigger (a config reload may add its own); without a listener Node would end the
 * process on SIGHUP.
 */
function onHangup(ctx: CommandContext, reopen: () => Promise<void>): () => void {
  const listener = (): void => {
    ctx.io.stderr.write('portcullis: SIGHUP, reopening audit sinks\n')
    reopen().catch(() => undefined)
  }
  process.on('SIGHUP', listener)
  return () => {
    process.off('SIGHUP', listener)
  }
}

/** Waits for SIGINT/SIGTERM, then stops; a second signal during the stop exits at once. */
function untilSignal(ctx: CommandContext, stop: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        ctx.io.stderr.write(`portcullis: ${signal} again, exiting without waiting\n`)
        process.exit(1)
      }
      stopping = true
      ctx.io.stderr.write(`portcullis: ${signal}, stopping\n`)
      stop().finally(() => {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        resolve()
      })
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  })
}

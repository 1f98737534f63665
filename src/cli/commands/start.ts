import { loadConfig, readSecrets } from '../../config/load'
import { chooseConfigFile, describeConfigChoice } from '../config-file'
import type { CommandContext, LeafSpec } from './context'
import type { ReloadOutcome } from '../../config/reload'
import { RESTART_MESSAGE } from '../../config/reload-plan'
import { applyConnectionTiering } from '../../runtime/v8-tiering'

/**
 * `portcullis start [-c FILE]`: runs the gateway until SIGINT/SIGTERM, then stops it gracefully
 * (DESIGN §4 `shutdown`: not ready at once, accept for readinessDelayMs, stop accepting, protocol
 * goodbyes, drainTimeoutMs), and exits 0. A second signal during the stop exits at once. SIGHUP
 * reopens the audit file sinks (logrotate's `postrotate`) and reloads the config file (DESIGN §4
 * "Operations and keys", src/config/reload.ts); with `workers: N` the primary passes it on to every
 * worker. The data path is imported here, lazily, so admin commands do not load it.
 */
export const startCommand: LeafSpec = {
  name: 'start',
  synopsis: '[-c FILE]',
  summary: 'run the gateway (config: -c FILE, else PORTCULLIS_CONFIG, else ./portcullis.yaml, else the defaults)',
  details: 'It logs which config file it read; the PORTCULLIS_* environment overrides apply on top. The admin commands and config check read the same file by the same rule. SIGHUP reopens the audit files and reloads that file (README "Reload"); SIGINT/SIGTERM stop it gracefully.',
  run: (ctx) => start(ctx),
}

async function start(ctx: CommandContext): Promise<number> {
  const choice = chooseConfigFile(ctx.io, ctx.global.config)
  const path = choice.file
  // A refusal names the file itself ("invalid configuration in FILE").
  const config = loadConfig({ ...(path !== undefined ? { file: path } : {}), env: ctx.io.env })
  const secrets = readSecrets(ctx.io.env)
  const { checkClusterConfig, isWorker, runPrimary, workerCount } = await import('../../cluster')
  // Once per start: the primary says it, its workers read the same file by the same rule.
  if (!isWorker()) ctx.io.stderr.write(`portcullis: ${describeConfigChoice(choice)}\n`)
  checkClusterConfig(config)
  if (workerCount(config) > 1 && !isWorker()) {
    const primary = await runPrimary(config, secrets, (line) => ctx.io.stderr.write(`portcullis: ${line}\n`))
    const offHup = onHangup(() => {
      ctx.io.stderr.write(`portcullis: SIGHUP, passed on to ${primary.reload()} workers\n`)
    })
    await untilSignal(ctx, () => primary.stop())
    offHup()
    return 0
  }
  // Before the data path is loaded: it is what the lower budget is for (src/runtime/v8-tiering.ts).
  applyConnectionTiering()
  const { startGateway } = await import('../../gateway')
  const gateway = await startGateway(config, { secrets, reloadFrom: { ...(path !== undefined ? { file: path } : {}), env: ctx.io.env } })
  ctx.io.stderr.write(`portcullis: admin API on ${gateway.adminUrl}; ${gateway.rootAccessKey.file !== undefined ? `root AccessKey in ${gateway.rootAccessKey.file}` : 'root AccessKey from the environment'}\n`)
  const announced = new Set<string>()
  const announceListeners = (): void => {
    for (const listener of gateway.config.listeners) {
      if (announced.has(listener.name)) continue
      announced.add(listener.name)
      const address = gateway.listenerAddress(listener.name)
      ctx.io.stderr.write(`portcullis: ${listener.protocol} listener ${listener.name} on ${address.address}:${address.port}${listener.tls ? ' (TLS)' : ''}\n`)
    }
  }
  announceListeners()
  if (gateway.demo !== undefined) {
    ctx.io.stderr.write([
      `portcullis: demo instance "${gateway.demo.instanceId}" on the embedded broker, dev CA registered. Try:`,
      `  ${gateway.demo.subscribeCommand}`,
      `  ${gateway.demo.publishCommand}`,
      '',
    ].join('\n'))
  }
  const offHup = onHangup(() => {
    ctx.io.stderr.write('portcullis: SIGHUP, reopening audit sinks and reloading the config\n')
    gateway.reload({ kind: 'signal' }).then((outcome) => {
      ctx.io.stderr.write(`portcullis: ${describeReload(outcome)}\n`)
      if (outcome.result !== 'success') return
      // A changed listener is announced again with its new address; a removed one is forgotten.
      for (const name of [...announced]) if (!(name in outcome.listeners) || outcome.applied.some((p) => p.startsWith(`listeners[${name}]`))) announced.delete(name)
      announceListeners()
    }, (err: unknown) => {
      ctx.io.stderr.write(`portcullis: config reload failed: ${err instanceof Error ? err.message : String(err)}\n`)
    })
  })
  await untilSignal(ctx, () => gateway.stop())
  offHup()
  // A cluster worker's IPC channel would keep it alive after a clean stop.
  if (isWorker()) process.disconnect?.()
  // Everything is closed; a handle some library still holds must not keep a stopped gateway alive.
  setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref()
  return 0
}

/** One line on what a reload did, for the operator who sent the SIGHUP (the details are in the audit event). */
export function describeReload(outcome: ReloadOutcome): string {
  if (outcome.result !== 'success') {
    return outcome.result === 'invalid'
      ? `config not reloaded, the running config is kept: ${outcome.message}`
      : `config reload failed (${outcome.code}): ${outcome.message}${outcome.applied.length > 0 ? `; applied before the failure: ${outcome.applied.join(', ')}` : ''}`
  }
  const applied = outcome.applied.length > 0 ? `applied ${outcome.applied.join(', ')}` : 'nothing changed'
  const restart = outcome.restartNeeded.length > 0 ? `; not applied, ${RESTART_MESSAGE}: ${outcome.restartNeeded.join(', ')}` : ''
  return `config reloaded: ${applied}${restart}`
}

/**
 * SIGHUP: the audit sinks reopened by path and the config reloaded (the gateway's `reload` does
 * both, in that order). Without a listener Node would end the process on SIGHUP.
 */
function onHangup(run: () => void): () => void {
  const listener = (): void => run()
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

import { spawn, type ChildProcess } from 'node:child_process'

/**
 * A server started by the bench, pinned to one core with `taskset -c CORE` (issue 5 §3: the
 * generator and the servers on different cores). `taskset` execs the command, so the child's
 * pid is the server's own and /proc/<pid>/stat measures the server, not a wrapper.
 */
export interface ServerProcess {
  name: string
  pid: number
  child: ChildProcess
  /** Everything the process wrote on stdout and stderr, for error messages. */
  output(): string
  stop(): Promise<void>
}

export interface StartOptions {
  name: string
  core: number
  command: string
  args: readonly string[]
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Ready when the output matches (servers that print a line), or when probe resolves. */
  ready: ((output: string) => boolean) | { probe: () => Promise<void> }
  timeoutMs?: number
}

export async function startPinned(o: StartOptions): Promise<ServerProcess> {
  const child = spawn('taskset', ['-c', String(o.core), o.command, ...o.args], {
    env: o.env ?? process.env,
    ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const server: ServerProcess = {
    name: o.name,
    pid: child.pid ?? -1,
    child,
    output: () => output,
    stop: () => stopChild(child),
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stopChild(child)
      reject(new Error(`${o.name} did not become ready in ${o.timeoutMs ?? 20_000} ms:\n${output}`))
    }, o.timeoutMs ?? 20_000)
    const ready = o.ready
    const onData = (chunk: Buffer): void => {
      // Keep only the tail: a server logging per connection must not grow the bench's memory.
      output = (output + chunk.toString()).slice(-64 * 1024)
      if (typeof ready === 'function' && ready(output)) {
        clearTimeout(timer)
        resolve()
      }
    }
    if (typeof ready !== 'function') {
      ready.probe().then(() => {
        clearTimeout(timer)
        resolve()
      }, (err: Error) => {
        clearTimeout(timer)
        void stopChild(child)
        reject(new Error(`${o.name}: ${err.message}\n${output}`))
      })
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${o.name} exited (${code ?? signal}) before it was ready:\n${output}`))
    })
  })
  return server
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const force = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(force)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** Waits until something accepts TCP connections on host:port (servers that print nothing). */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const { connect } = await import('node:net')
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => {
        s.destroy()
        resolve(true)
      })
      s.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** A free TCP port on 127.0.0.1 (for servers that cannot bind port 0 and report it). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })
}

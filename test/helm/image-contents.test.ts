/**
 * The container image without a Docker engine (issue 12): the Dockerfile is read, and its runtime
 * stage is performed step by step in a temporary root — the same COPY sources (through
 * .dockerignore), the same `npm ci --omit=dev` (offline, from the npm cache: the one change), the
 * same directories, owner and user — then its ENTRYPOINT + CMD is started as its USER with only its
 * VOLUMEs writable, and its HEALTHCHECK command is run as Docker would.
 *
 * The build stage's output is the checkout's dist/ (the build stage runs the same `npm run build`
 * on the same files; npm test builds first); without dist/ it is built here into the temp root.
 * Not exercised: the base image itself (Debian's node:20 with its apt packages) and a real
 * `docker build`; the host's Node and openssl stand in for the image's.
 */
import t from 'tap'
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, posix, relative } from 'node:path'
import { parse as parseYaml, stringify } from 'yaml'
import { ROOT } from './chart'
import { dockerignore, readDockerfile, words, type Instruction, type Stage } from './dockerfile'
import { unusedPort } from '../helpers/services'
import { pristine, sleep, untilOutput } from './process'

const stages = readDockerfile()
const build = stages[0] as Stage
const runtime = stages[stages.length - 1] as Stage
const ignored = dockerignore()

function only(stage: Stage, keyword: string): Instruction {
  const found = stage.instructions.filter((i) => i.keyword === keyword)
  if (found.length !== 1) throw new Error(`stage ${stage.name}: expected one ${keyword}, found ${found.length}`)
  return found[0] as Instruction
}

function runCommands(stage: Stage): string[][] {
  return stage.instructions.filter((i) => i.keyword === 'RUN').flatMap((i) => i.args.split('&&').map((c) => words(c)))
}

t.test('the Dockerfile is multi-stage, non-root, stops on SIGTERM and checks /healthz', async (t) => {
  t.ok(stages.length >= 2, `${stages.length} stages: ${stages.map((s) => s.name).join(', ')}`)
  t.ok(runCommands(build).some((c) => c.join(' ') === 'npm run build'), 'the build stage compiles (npm run build)')
  t.ok(runCommands(build).some((c) => c[0] === 'npm' && c[1] === 'ci' && !c.includes('--omit=dev')), 'with the dev dependencies')
  t.ok(runCommands(runtime).some((c) => c[0] === 'npm' && c[1] === 'ci' && c.includes('--omit=dev')), 'the runtime stage installs production dependencies only')
  const fromBuild = runtime.instructions.filter((i) => i.keyword === 'COPY' && i.flags.from !== undefined)
  t.same(fromBuild.map((i) => [i.flags.from, words(i.args)[0]]), [[build.name, `${only(build, 'WORKDIR').args}/dist/src`], [build.name, `${only(build, 'WORKDIR').args}/dist/console`]],
    'it takes only the compiled dist/src and the built console from the build stage')
  t.notOk(runtime.instructions.some((i) => i.keyword === 'COPY' && i.flags.from === undefined && words(i.args).some((w) => ['.', 'src', 'test', 'node_modules'].includes(w))),
    'no sources, tests or node_modules are copied into the runtime stage')
  const user = only(runtime, 'USER').args
  t.match(user, /^[0-9]+:[0-9]+$/, 'USER is numeric (Kubernetes runAsNonRoot can only verify a numeric user)')
  t.not(Number(user.split(':')[0]), 0, 'and not root')
  t.equal(only(runtime, 'STOPSIGNAL').args, 'SIGTERM', 'STOPSIGNAL SIGTERM (the graceful stop, DESIGN §4 `shutdown`)')
  const health = only(runtime, 'HEALTHCHECK')
  t.equal(health.exec?.[0], 'node', 'HEALTHCHECK runs node (there is no curl in the image)')
  t.match(health.exec?.join(' ') ?? '', /\/healthz/, 'against /healthz')
  t.same(only(runtime, 'VOLUME').exec, ['/data', '/certs', '/tmp'], 'data, certificates and scratch files are volumes')
  t.equal(only(runtime, 'ENTRYPOINT').exec?.[0], 'node', 'ENTRYPOINT is exec form (signals reach node, PID 1)')
  t.equal(only(runtime, 'CMD').exec?.[0], 'start', 'CMD starts the gateway')
  t.ok(runCommands(runtime).some((c) => c.includes('apt-get') && c.includes('openssl')), 'the runtime has the openssl CLI src/ca/openssl-verify.ts runs')
})

t.test('.dockerignore lets in what the Dockerfile copies and keeps local state and secrets out', async (t) => {
  for (const stage of stages) {
    for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY' && i.flags.from === undefined && i.heredocs.length === 0)) {
      for (const source of words(copy.args).slice(0, -1)) {
        t.notOk(ignored(source), `${stage.name}: COPY ${source} is in the build context`)
        t.ok(existsSync(join(ROOT, source)), `${stage.name}: ${source} exists`)
      }
    }
  }
  for (const secret of ['data/root-access-key.json', 'data/master-key.json', 'certs/server.key', '.git/config', 'node_modules/zod/package.json', '.env', 'test/fixtures/pika_roundtrip.py', 'dist/src/gateway.js']) {
    t.ok(ignored(secret), `${secret} stays out of the build context`)
  }
  const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as { include: string[] }
  t.ok(tsconfig.include.includes('src/**/*.ts'), 'tsconfig.build.json compiles src/, which the build stage copies')
})

/** Performs the runtime stage in `rootfs`; answers what the image would run and as whom. */
function performRuntimeStage(t: tap.Test, rootfs: string, buildRoot: string): { env: Record<string, string>; user: { uid: number; gid: number }; volumes: string[]; entry: string[] } {
  const buildWorkdir = only(build, 'WORKDIR').args
  let cwd = '/'
  const env: Record<string, string> = {}
  let user = { uid: 0, gid: 0 }
  let volumes: string[] = []
  let entrypoint: string[] = []
  let cmd: string[] = []
  const inRoot = (p: string): string => join(rootfs, isAbsolute(p) ? p : posix.join(cwd, p))
  for (const step of runtime.instructions) {
    switch (step.keyword) {
      case 'WORKDIR':
        cwd = posix.resolve(cwd, step.args)
        mkdirSync(inRoot(cwd), { recursive: true })
        break
      case 'ENV': {
        const [name, ...value] = step.args.split('=')
        env[name as string] = value.join('=')
        break
      }
      case 'COPY': {
        const parts = words(step.args)
        const dest = parts[parts.length - 1] as string
        if (step.heredocs.length > 0) {
          mkdirSync(dirname(inRoot(dest)), { recursive: true })
          writeFileSync(inRoot(dest), (step.heredocs[0] as { body: string }).body)
          break
        }
        const sources = parts.slice(0, -1)
        for (const source of sources) {
          const from = step.flags.from === undefined
            ? join(ROOT, source)
            : join(buildRoot, relative(buildWorkdir, source))
          const target = sources.length > 1 || dest.endsWith('/') ? join(inRoot(dest), posix.basename(source)) : inRoot(dest)
          mkdirSync(dirname(target), { recursive: true })
          cpSync(from, target, {
            recursive: true,
            // The build context is what .dockerignore lets through; another stage's files are whole.
            filter: (p) => step.flags.from !== undefined || !ignored(relative(ROOT, p)),
          })
        }
        break
      }
      case 'RUN':
        for (const command of step.args.split('&&').map((c) => words(c))) runCommand(t, command, rootfs, inRoot(cwd))
        break
      case 'USER': {
        const [uid, gid] = step.args.split(':').map(Number) as [number, number]
        user = { uid, gid }
        break
      }
      case 'VOLUME':
        volumes = step.exec ?? words(step.args)
        for (const v of volumes) mkdirSync(inRoot(v), { recursive: true })
        break
      case 'ENTRYPOINT':
        entrypoint = step.exec ?? []
        break
      case 'CMD':
        cmd = step.exec ?? []
        break
      case 'EXPOSE': case 'STOPSIGNAL': case 'HEALTHCHECK':
        break
      default:
        throw new Error(`Dockerfile line ${step.line}: the image test does not know how to perform ${step.keyword}`)
    }
  }
  // The base image's /tmp is 1777; as a VOLUME it starts as a copy of it.
  chmodSync(join(rootfs, 'tmp'), 0o1777)
  return { env, user, volumes, entry: [...entrypoint, ...cmd] }
}

/** The RUN commands the Dockerfile may use, each performed as in the image (or checked on the host). */
function runCommand(t: tap.Test, command: string[], rootfs: string, cwd: string): void {
  const [program, ...args] = command
  const paths = (list: string[]): string[] => list.filter((a) => !a.startsWith('-')).map((p) => join(rootfs, p))
  if (program === 'npm' && args[0] === 'ci') {
    // --offline: the one change, from the npm cache (no network here).
    const result = spawnSync('npm', [...args, '--offline'], { cwd, encoding: 'utf8', env: { ...process.env, npm_config_update_notifier: 'false' } })
    if (result.status !== 0) throw new Error(`npm ${args.join(' ')} failed:\n${result.stderr}`)
    return
  }
  if (program === 'npm' && args.join(' ') === 'cache clean --force') return
  if (program === 'apt-get') {
    if (args[0] === 'install') {
      for (const pkg of args.slice(1).filter((a) => !a.startsWith('-'))) {
        t.equal(spawnSync('dpkg', ['-s', pkg], { stdio: 'ignore' }).status, 0, `the image's ${pkg} package is installed on this host, which stands in for it`)
      }
    }
    return
  }
  if (program === 'rm' && args.join(' ') === '-rf /var/lib/apt/lists/*') return
  if (program === 'mkdir' && args[0] === '-p') {
    for (const p of paths(args.slice(1))) mkdirSync(p, { recursive: true })
    return
  }
  if (program === 'chown') {
    const [uid, gid] = (args[0] as string).split(':').map(Number) as [number, number]
    for (const p of paths(args.slice(1))) chownSync(p, uid, gid)
    return
  }
  if (program === 'chmod') {
    for (const p of paths(args.slice(1))) chmodSync(p, Number.parseInt(args[0] as string, 8))
    return
  }
  throw new Error(`the image test does not know how to perform RUN ${command.join(' ')}`)
}

/** path → size:mtime of every file under `dir`, except under the `skip` directories. */
function snapshot(dir: string, skip: string[]): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      if (skip.includes(p)) continue
      const s = lstatSync(p)
      if (s.isDirectory()) walk(p)
      else out.set(p, `${s.size}:${s.mtimeMs}`)
    }
  }
  walk(dir)
  return out
}

function runHealthcheck(command: string[], env: Record<string, string>, user: { uid: number; gid: number } | undefined): number | null {
  const [program, ...args] = command
  return spawnSync(...pristine(program as string, args), {
    env, timeout: 5000, stdio: 'ignore', ...(user === undefined ? {} : user),
  }).status
}

t.test('the runtime stage, performed in a temporary root, serves /healthz as its user with only its volumes writable', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'portcullis-image-'))
  chmodSync(root, 0o755)
  let child: ChildProcess | undefined
  t.teardown(() => {
    child?.kill('SIGKILL')
    rmSync(root, { recursive: true, force: true })
  })
  const rootfs = join(root, 'rootfs')
  mkdirSync(join(rootfs, 'tmp'), { recursive: true })

  let buildRoot = ROOT
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) {
    // No build output in the checkout: perform the build stage's `npm run build` here.
    buildRoot = join(root, 'build')
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(buildRoot, 'dist')], { stdio: 'inherit' })
  }
  const image = performRuntimeStage(t, rootfs, buildRoot)

  // What the image holds: production dependencies, the compiled code, the launcher; nothing else.
  t.same(readdirSync(join(rootfs, 'app')).sort(), ['bin', 'dist', 'node_modules', 'package-lock.json', 'package.json'], '/app holds only the package files, node_modules, dist and bin')
  t.same(readdirSync(join(rootfs, 'app/dist')).sort(), ['console', 'src'], 'dist holds the gateway and the built console only (no bench, no tests)')
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> }
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> }
  for (const dep of Object.keys(pkg.dependencies)) t.ok(existsSync(join(rootfs, 'app/node_modules', dep)), `dependency ${dep} is installed`)
  for (const dev of Object.keys(pkg.devDependencies)) {
    const needed = lock.packages[`node_modules/${dev}`]?.dev !== true
    t.equal(existsSync(join(rootfs, 'app/node_modules', dev)), needed, needed ? `dev dependency ${dev} is installed only because a dependency needs it` : `dev dependency ${dev} is not installed`)
  }
  const devOnly = readdirSync(join(rootfs, 'app/node_modules')).filter((n) => lock.packages[`node_modules/${n}`]?.dev === true)
  t.same(devOnly, [], 'no package that only dev dependencies need is installed')

  // The read-only root: everything root's and not writable by the image's user, except the volumes.
  const uid = process.getuid?.() ?? -1
  const asUser = uid === 0 ? image.user : undefined
  if (asUser === undefined) t.comment(`not root (uid ${uid}): the gateway runs as this user, so the USER ${image.user.uid} and read-only checks are weaker`)
  const volumeDirs = image.volumes.map((v) => join(rootfs, v))
  const before = snapshot(rootfs, volumeDirs)

  // `docker run --read-only -e …`: the variables an operator would pass to move ports for a test.
  const adminPort = await unusedPort()
  const configArg = image.entry.indexOf('-c')
  const configInImage = image.entry[configArg + 1] as string
  const mapped = (p: string): string => (isAbsolute(p) && !p.startsWith(rootfs) ? join(rootfs, p) : p)
  const config = parseYaml(readFileSync(mapped(configInImage), 'utf8')) as Record<string, unknown>
  const renderedConfig = join(root, 'portcullis.yaml')
  // The image's own config with its absolute paths under the temp root: the one rewrite.
  writeFileSync(renderedConfig, stringify(JSON.parse(JSON.stringify(config), (_k, v: unknown) => (typeof v === 'string' && v.startsWith('/') ? mapped(v) : v))))
  chmodSync(renderedConfig, 0o644)
  const env: Record<string, string> = {
    ...image.env,
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: '/',
    TMPDIR: join(rootfs, 'tmp'),
    PORTCULLIS_ADMIN__HOST: '127.0.0.1',
    PORTCULLIS_ADMIN__PORT: String(adminPort),
    PORTCULLIS_LISTENERS: JSON.stringify([
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 },
    ]),
    PORTCULLIS_LOG__LEVEL: 'warn',
  }
  const [program, ...args] = image.entry.map((a, i) => (i === configArg + 1 ? renderedConfig : mapped(a)))
  t.equal(program, 'node')
  child = spawn(...pristine('node', args), { cwd: join(rootfs, 'app'), env, stdio: ['ignore', 'ignore', 'pipe'], ...(asUser ?? {}) })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)))
  const started = await untilOutput(() => stderr, /admin API on/, exited, 30_000)
  if (!t.ok(started, 'the gateway starts from the image\'s ENTRYPOINT + CMD')) {
    t.comment(stderr)
    return
  }
  const health = only(runtime, 'HEALTHCHECK').exec ?? []
  t.equal(runHealthcheck(health, env, asUser), 0, 'the HEALTHCHECK command answers healthy')
  t.ok(existsSync(join(rootfs, 'data/root-access-key.json')) && existsSync(join(rootfs, 'data/master-key.json')), 'the generated keys went to the /data volume')
  t.ok(existsSync(join(rootfs, 'certs/server.pem')), 'the development PKI went to the /certs volume')
  // The image's LD_PRELOAD (jemalloc, see the Dockerfile) took: the library is mapped into the
  // gateway, and the loader did not refuse it.
  const preload = image.env['LD_PRELOAD']
  t.equal(preload, 'libjemalloc.so.2', 'the image preloads jemalloc (docs/deploy.md)')
  if (preload !== undefined && child.pid !== undefined) {
    const mapped = readFileSync(`/proc/${child.pid}/maps`, 'utf8').split('\n').some((line) => line.endsWith(`/${preload}`))
    t.ok(mapped, `the gateway runs with ${preload} loaded (the image's LD_PRELOAD)`)
    t.notMatch(stderr, /cannot be preloaded/, 'and the loader found it')
  }

  child.kill(only(runtime, 'STOPSIGNAL').args as NodeJS.Signals)
  const code = await Promise.race([exited, sleep(15_000).then(() => 'timeout')])
  t.equal(code, 0, 'STOPSIGNAL ends it cleanly (exit 0)')
  t.not(runHealthcheck(health, env, asUser), 0, 'and the HEALTHCHECK then reports it unhealthy')
  const after = snapshot(rootfs, volumeDirs)
  t.same([...after.entries()].filter(([p, s]) => before.get(p) !== s).map(([p]) => relative(rootfs, p)), [], 'nothing outside the volumes was written (a read-only root filesystem suffices)')
  if (stderr.includes('EACCES') || stderr.includes('EROFS')) t.fail(`the gateway tried to write where it may not:\n${stderr}`)
})

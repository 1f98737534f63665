/**
 * A reader for the repository's Dockerfile and .dockerignore (the subset of the Dockerfile
 * syntax they use: continuation lines, exec-form JSON arguments, `--flag=value`s, heredocs, ARG
 * substitution in FROM), so that the image test performs exactly the steps the file declares
 * instead of a copy of them that could drift.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './chart'

export interface Instruction {
  keyword: string
  /** The arguments after the keyword and its flags, as written (heredoc bodies excluded). */
  args: string
  /** Exec form (`["a", "b"]`), when the arguments are a JSON array. */
  exec?: string[]
  flags: Record<string, string>
  heredocs: Array<{ name: string; body: string }>
  line: number
}

export interface Stage {
  name: string
  image: string
  instructions: Instruction[]
}

export function readDockerfile(file = join(ROOT, 'Dockerfile')): Stage[] {
  const lines = readFileSync(file, 'utf8').split('\n')
  const args = new Map<string, string>()
  const stages: Stage[] = []
  for (let i = 0; i < lines.length; i++) {
    const start = i
    let text = lines[i] ?? ''
    if (/^\s*(#|$)/.test(text)) continue
    while (text.endsWith('\\') && i + 1 < lines.length) {
      text = `${text.slice(0, -1)} ${(lines[++i] ?? '').trim()}`
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(text)
    if (m === null) throw new Error(`Dockerfile line ${start + 1}: cannot read ${JSON.stringify(text)}`)
    const keyword = (m[1] as string).toUpperCase()
    let rest = m[2] as string
    const flags: Record<string, string> = {}
    for (let f = /^--([a-z-]+)=(\S+)\s*/.exec(rest); f !== null; f = /^--([a-z-]+)=(\S+)\s*/.exec(rest)) {
      flags[f[1] as string] = f[2] as string
      rest = rest.slice(f[0].length)
    }
    const heredocs: Instruction['heredocs'] = []
    for (const h of rest.matchAll(/<<-?["']?([A-Za-z_][A-Za-z0-9_]*)["']?/g)) {
      const body: string[] = []
      for (i++; i < lines.length && lines[i] !== h[1]; i++) body.push(lines[i] ?? '')
      if (i >= lines.length) throw new Error(`Dockerfile line ${start + 1}: heredoc ${h[1]} is not closed`)
      heredocs.push({ name: h[1] as string, body: `${body.join('\n')}\n` })
    }
    const instruction: Instruction = { keyword, args: rest.trim(), flags, heredocs, line: start + 1 }
    if (keyword === 'HEALTHCHECK' && /^CMD\s+/.test(instruction.args)) {
      instruction.args = instruction.args.replace(/^CMD\s+/, '')
      flags.cmd = 'true'
    }
    if (instruction.args.startsWith('[')) instruction.exec = JSON.parse(instruction.args) as string[]
    if (keyword === 'ARG') {
      const [name, value = ''] = instruction.args.split('=', 2) as [string, string?]
      args.set(name, value)
      if (stages.length === 0) continue
    }
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args)
      if (from === null) throw new Error(`Dockerfile line ${start + 1}: cannot read FROM ${instruction.args}`)
      const image = (from[1] as string).replace(/\$\{([A-Za-z_]+)\}|\$([A-Za-z_]+)/g, (_, a: string | undefined, b: string | undefined) => args.get((a ?? b) as string) ?? '')
      stages.push({ name: from[2] ?? String(stages.length), image, instructions: [] })
      continue
    }
    const stage = stages[stages.length - 1]
    if (stage === undefined) throw new Error(`Dockerfile line ${start + 1}: ${keyword} before FROM`)
    stage.instructions.push(instruction)
  }
  return stages
}

/** The whitespace-separated words of a shell-form argument (the Dockerfile's RUN and COPY use no quoting). */
export function words(args: string): string[] {
  return args.split(/\s+/).filter((w) => w !== '')
}

/**
 * .dockerignore as the Docker builder reads it (moby/patternmatcher): patterns in order, `!`
 * re-includes, the last pattern matching the path or one of its parent directories decides;
 * `*` is any run of non-separator characters, `**` any run including separators, `?` one.
 */
export function dockerignore(file = join(ROOT, '.dockerignore')): (path: string) => boolean {
  const patterns = readFileSync(file, 'utf8').split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!')
      const glob = (negate ? l.slice(1) : l).replace(/^\/+|\/+$/g, '')
      const source = glob.split(/(\*\*|\*|\?)/).map((part) => {
        if (part === '**') return '.*'
        if (part === '*') return '[^/]*'
        if (part === '?') return '[^/]'
        return part.replace(/[.+^${}()|[\]\\]/g, '\\$&')
      }).join('')
      return { negate, re: new RegExp(`^${source}$`) }
    })
  /** True when `path` (relative to the context, `/`-separated) is excluded from the context. */
  return (path: string) => {
    const parts = path.split('/')
    const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
    let excluded = false
    for (const p of patterns) {
      if (candidates.some((c) => p.re.test(c))) excluded = !p.negate
    }
    return excluded
  }
}

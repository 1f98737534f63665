import type { Command, Option } from 'commander'
import { CliError } from './cli-error'

/**
 * `portcullis completion bash|zsh`: a completion script generated from the commander tree, so a
 * command or option added to the tree is completed without anyone editing the script. The script
 * is static (no call back into portcullis on every Tab): it finds the command path among the words
 * typed so far (skipping options and their values), then offers that command's subcommands and
 * options; after an option that takes a value it offers the value's choices, else files.
 */
export const SHELLS = ['bash', 'zsh'] as const
export type Shell = (typeof SHELLS)[number]

interface Node {
  /** `''` for the top, `ca`, `ca register`. */
  path: string
  subcommands: Array<{ name: string; summary: string }>
  options: Array<{ flag: string; summary: string }>
}

interface Tree {
  nodes: Node[]
  /** Every flag that takes a value (its next word is not a command). */
  valueFlags: string[]
  /** Flags whose values are a fixed list. */
  choices: Array<{ flag: string; values: readonly string[] }>
}

export function completionScript(program: Command, shell: string): string {
  const tree = treeOf(program)
  if (shell === 'bash') return bashScript(tree)
  if (shell === 'zsh') return zshScript(tree)
  throw new CliError('USAGE', `no completion for shell ${shell}: use bash or zsh`)
}

export function treeOf(program: Command): Tree {
  const nodes: Node[] = []
  const valueFlags = new Set<string>()
  const choices = new Map<string, readonly string[]>()
  const globals = program.options
  const visit = (cmd: Command, path: string): void => {
    const own = cmd === program ? cmd.options : [...cmd.options, ...globals]
    const options = [...own, ...helpFlags()].flatMap((o) => flagsOf(o).map((flag) => ({ flag, summary: o.description })))
    for (const o of own) {
      if (o.required || o.optional) for (const f of flagsOf(o)) valueFlags.add(f)
      if (o.argChoices !== undefined) for (const f of flagsOf(o)) choices.set(f, o.argChoices)
    }
    const subcommands = cmd.commands.map((c) => ({ name: c.name(), summary: c.summary() }))
    if (cmd.commands.length > 0) subcommands.push({ name: 'help', summary: 'show the help of a command' })
    nodes.push({ path, subcommands, options })
    for (const sub of cmd.commands) visit(sub, path === '' ? sub.name() : `${path} ${sub.name()}`)
  }
  visit(program, '')
  return { nodes, valueFlags: [...valueFlags].sort(), choices: [...choices].map(([flag, values]) => ({ flag, values })) }
}

function flagsOf(o: Pick<Option, 'short' | 'long'>): string[] {
  return [o.short, o.long].filter((f): f is string => f !== undefined)
}

function helpFlags(): Array<Pick<Option, 'short' | 'long' | 'description'>> {
  return [{ short: '-h', long: '--help', description: 'show the help of the command' }]
}

/** `'…'` for the shell, with `'` closed, escaped and reopened. */
function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`
}

function bashScript(tree: Tree): string {
  const paths = tree.nodes.filter((n) => n.path !== '').map((n) => quote(n.path)).join('|')
  const cases = tree.nodes.map((n) => `    ${quote(n.path)}) words=${quote([...n.subcommands.map((s) => s.name), ...n.options.map((o) => o.flag)].join(' '))} ;;`)
  const choiceCases = tree.choices.map((c) => `    ${c.flag}) COMPREPLY=($(compgen -W ${quote(c.values.join(' '))} -- "$cur")); return ;;`)
  return `# bash completion for portcullis, generated from its command tree by \`portcullis completion bash\`.
# Load it with:  source <(portcullis completion bash)   (or save it in /etc/bash_completion.d/portcullis)
_portcullis() {
  local cur prev word cmdpath="" words="" skip=0 i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$word" in
      ${tree.valueFlags.join('|')}) skip=1; continue ;;
      -*) continue ;;
    esac
    case "\${cmdpath:+$cmdpath }$word" in
      ${paths}) cmdpath="\${cmdpath:+$cmdpath }$word" ;;
    esac
  done
  case "$prev" in
${choiceCases.join('\n')}
    ${tree.valueFlags.join('|')}) COMPREPLY=(); return ;;
  esac
  case "$cmdpath" in
${cases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o bashdefault -o default -F _portcullis portcullis
`
}

/** A `_describe` entry: `name:summary`, with `:` in the name or summary escaped. */
function describeEntry(name: string, summary: string): string {
  return quote(`${name.replace(/:/g, '\\:')}:${summary.replace(/:/g, '\\:')}`)
}

function zshScript(tree: Tree): string {
  const paths = tree.nodes.filter((n) => n.path !== '').map((n) => quote(n.path)).join('|')
  const cases = tree.nodes.map((n) => [
    `    (${quote(n.path)})`,
    `      subs=(${n.subcommands.map((s) => describeEntry(s.name, s.summary)).join(' ')})`,
    `      opts=(${n.options.map((o) => describeEntry(o.flag, o.summary)).join(' ')}) ;;`,
  ].join('\n'))
  const choiceCases = tree.choices.map((c) => `    (${c.flag}) compadd -- ${c.values.map(quote).join(' ')}; return ;;`)
  return `#compdef portcullis
# zsh completion for portcullis, generated from its command tree by \`portcullis completion zsh\`.
# Load it with:  source <(portcullis completion zsh)   (or save it as _portcullis in a directory of $fpath)
_portcullis() {
  local word cmdpath="" skip=0 i
  local -a subs opts
  for ((i = 2; i < CURRENT; i++)); do
    word=\${words[i]}
    if ((skip)); then skip=0; continue; fi
    case $word in
      (${tree.valueFlags.join('|')}) skip=1; continue ;;
      (-*) continue ;;
    esac
    case "\${cmdpath:+$cmdpath }$word" in
      (${paths}) cmdpath="\${cmdpath:+$cmdpath }$word" ;;
    esac
  done
  case \${words[CURRENT-1]} in
${choiceCases.join('\n')}
    (${tree.valueFlags.join('|')}) _files; return ;;
  esac
  case $cmdpath in
${cases.join('\n')}
  esac
  if [[ \${words[CURRENT]} == -* ]] || ((\${#subs} == 0)); then
    _describe -t options 'option' opts
  else
    _describe -t commands 'command' subs
  fi
}
if (( $+functions[compdef] )); then compdef _portcullis portcullis; fi
`
}

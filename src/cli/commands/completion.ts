import { completionScript } from '../completion'
import type { LeafSpec } from './context'
import { CliError } from '../cli-error'

/** `portcullis completion bash|zsh`: prints the completion script (completion.ts). */
export const completionCommand: LeafSpec = {
  name: 'completion',
  synopsis: 'bash|zsh',
  summary: 'print a shell completion script: source <(portcullis completion bash)',
  details: 'bash: `source <(portcullis completion bash)` in ~/.bashrc, or save it in /etc/bash_completion.d/portcullis. zsh: `source <(portcullis completion zsh)` in ~/.zshrc (after compinit), or save it as _portcullis in a directory of $fpath.',
  args: ['[shell]'],
  async run(ctx, parsed) {
    const shell = parsed.positionals[0]
    if (shell === undefined) throw new CliError('USAGE', 'completion needs the shell: bash or zsh')
    ctx.io.stdout.write(completionScript(ctx.root, shell))
    return 0
  },
}

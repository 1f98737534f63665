/**
 * Entry of the naive Node TLS pipe process (see node-pipe.ts): `node node-pipe-main.js <config
 * JSON>`. Prints one line with the ports it listens on, then only dies on a fatal error: no
 * logging per connection, so the bench measures forwarding, not logging.
 */
import { formatReadyLine, listenNodePipe, type NodePipeConfig } from './node-pipe'

const config = JSON.parse(process.argv[2] ?? '') as NodePipeConfig
listenNodePipe(config).then(
  (ports) => void process.stdout.write(formatReadyLine(ports) + '\n'),
  (err: unknown) => {
    process.stderr.write(`node-pipe: ${err instanceof Error ? err.message : String(err)}\n`)
    process.exit(1)
  },
)

/**
 * Child process for the embedded store's crash test: writes records one after another and prints
 * the id of each write once it has resolved (acknowledged), until the parent kills it with SIGKILL.
 * Usage: embedded-crash-writer.ts <dataDir>. Stops by itself after a bounded number of writes.
 */
import { EmbeddedStore } from '../../src/store/embedded'
import { GLOBAL_SCOPE } from '../../src/store/records'
import { instance } from './store-contract'

const MAX_WRITES = 20_000

async function main(dataDir: string | undefined): Promise<void> {
  if (dataDir === undefined) return
  const store = await EmbeddedStore.open({ dataDir })
  for (let i = 0; i < MAX_WRITES; i++) {
    await store.put('instances', GLOBAL_SCOPE, `i${i}`, instance(`i${i}`))
    process.stdout.write(`i${i}\n`)
  }
  await store.close()
}

main(process.argv[2]).catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`)
  process.exitCode = 1
})

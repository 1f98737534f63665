import type { Logger } from 'pino'
import type { Metrics } from './metrics'

/**
 * Node ends the process on a promise rejection nothing handled. For a gateway that holds thousands
 * of sessions that is the worst answer to one forgotten `.catch`: every device reconnects at once.
 * The data path handles its rejections itself (and tests look for this counter staying at zero);
 * this guard is the last line: it logs the rejection as an error and counts it
 * (`portcullis_unhandled_rejections_total`), and the process carries on. Uncaught exceptions are
 * left to Node's default: after one, the process state is unknown and a restart is the safe answer.
 */
export function guardUnhandledRejections(logger: Pick<Logger, 'error'>, metrics: Pick<Metrics, 'unhandledRejections'>): () => void {
  const onRejection = (reason: unknown): void => {
    metrics.unhandledRejections.inc()
    logger.error({ err: reason }, 'unhandled promise rejection; the process carries on')
  }
  process.on('unhandledRejection', onRejection)
  return () => { process.off('unhandledRejection', onRejection) }
}

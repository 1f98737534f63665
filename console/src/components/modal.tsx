import type { ComponentChildren } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { useAction } from '../hooks'
import { ErrorBox } from './error-box'

export function Modal({ title, onClose, children, wide }: { title: string; onClose(): void; children: ComponentChildren; wide?: boolean }) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => { if (e.key === 'Escape') onClose() }
    addEventListener('keydown', onKey)
    return () => removeEventListener('keydown', onKey)
  }, [onClose])
  return (
    <div class="overlay" onClick={(e) => { if (e.target === e.currentTarget) onClose() }}>
      <div class={wide === true ? 'modal wide' : 'modal'} role="dialog" aria-modal="true" aria-label={title}>
        <div class="modal-head">
          <h2>{title}</h2>
          <button type="button" class="link" aria-label="Close" onClick={onClose}>✕</button>
        </div>
        {children}
      </div>
    </div>
  )
}

export interface ConfirmButtonProps {
  label: string
  /** What will happen, in the operator's terms ("Revoke device … — this cannot be undone"). */
  message: ComponentChildren
  confirmLabel?: string
  danger?: boolean
  disabled?: boolean
  onConfirm(): Promise<void>
}

/**
 * A button for a destructive action: nothing is sent until the operator confirms in a dialog. A
 * refusal (e.g. 409 CA_HAS_ACTIVE_DEVICES) is shown in the dialog with its code.
 */
export function ConfirmButton(props: ConfirmButtonProps) {
  const [open, setOpen] = useState(false)
  const action = useAction()
  const close = (): void => { setOpen(false); action.clear() }
  return (
    <>
      <button type="button" class={props.danger === true ? 'danger' : ''} disabled={props.disabled === true} onClick={() => setOpen(true)}>{props.label}</button>
      {open && (
        <Modal title={`${props.label}?`} onClose={close}>
          <p>{props.message}</p>
          <ErrorBox error={action.error} />
          <div class="actions">
            <button type="button" onClick={close}>Cancel</button>
            <button
              type="button"
              class={props.danger === true ? 'danger confirm' : 'primary confirm'}
              disabled={action.busy}
              onClick={() => void action.run(props.onConfirm).then((ok) => { if (ok) setOpen(false) })}
            >
              {props.confirmLabel ?? props.label}
            </button>
          </div>
        </Modal>
      )}
    </>
  )
}

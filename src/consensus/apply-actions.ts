import type { Block } from '../core/block.ts'
import type { QuorumCert } from '../core/vote.ts'
import type { ConsensusAction, ConsensusEvent, PersistSafety, SendAction } from './types.ts'

/** The core's informational actions: nothing to carry out, only to count, log or record. */
export type ObservedAction = Extract<ConsensusAction, { type: 'roundChanged' | 'evidence' | 'rejected' }>

/** A message event from this validator to itself. */
export type LoopbackEvent = Extract<ConsensusEvent, { type: 'message' }>

/**
 * What carrying out the core's actions takes. Each driver of a ConsensusCore (the validator's
 * ConsensusDriver, the simulator, the consensus test harness) supplies its own: real disk and
 * sockets, a modelled network and clock, or plain queues.
 */
export interface ActionEffects {
  /**
   * Stores the safety record (and recovery state) of `action`. Durable when it returns, or when
   * the promise it returns resolves; `action.then` is released only after that. A rejection
   * drops the rest of the action list.
   */
  persist(action: PersistSafety): Promise<void> | void
  /** A send to another validator, or a broadcast to all others. */
  transmit(action: SendAction): void
  /** A send to this validator itself, as the message event it comes back as. */
  loopback(event: LoopbackEvent): void
  /** (Re)arms the single round timer. */
  setTimer(round: number, durationMs: number): void
  commit(blocks: readonly Block[], proof: QuorumCert): void
  /** Answer with `payloadAvailable` once every batch of `block` is held. */
  fetchPayload(block: Block): void
  /** Answer with `blockFetched`. */
  fetchBlock(blockId: Uint8Array, from: number): void
  /** Answer with `proposalPayload`. */
  buildProposal(round: number, height: number): void
  observe(action: ObservedAction): void
}

/**
 * Carries out one list of the core's actions, in order, for validator `self`. Two rules hold for
 * every driver and are stated only here:
 * - persist, then release: the sends nested in `persistSafety.then` (votes and timeouts) leave
 *   only after the safety record is durable (CometBFT's privval rule); the actions after it wait
 *   too, and are dropped if persisting fails;
 * - a send to self comes back as a message: the core counts its own vote or timeout through the
 *   same `message` event as anyone else's.
 *
 * Synchronous when `persist` is (simulator, harness); otherwise returns a promise that settles
 * once the whole list is carried out.
 */
export function applyActions(actions: readonly ConsensusAction[], self: number, effects: ActionEffects): Promise<void> | undefined {
  return applyFrom(actions, 0, self, effects)
}

function applyFrom(actions: readonly ConsensusAction[], start: number, self: number, effects: ActionEffects): Promise<void> | undefined {
  for (let i = start; i < actions.length; i++) {
    const action = actions[i]!
    switch (action.type) {
      case 'persistSafety': {
        const persisted = effects.persist(action)
        if (persisted !== undefined) {
          return persisted.then(() => {
            for (const send of action.then) release(send, self, effects)
            return applyFrom(actions, i + 1, self, effects)
          })
        }
        for (const send of action.then) release(send, self, effects)
        break
      }
      case 'send':
      case 'broadcast':
        release(action, self, effects)
        break
      case 'setTimer':
        effects.setTimer(action.round, action.durationMs)
        break
      case 'commit':
        effects.commit(action.blocks, action.proof)
        break
      case 'fetchPayload':
        effects.fetchPayload(action.block)
        break
      case 'fetchBlock':
        effects.fetchBlock(action.blockId, action.from)
        break
      case 'buildProposal':
        effects.buildProposal(action.round, action.height)
        break
      case 'roundChanged':
      case 'evidence':
      case 'rejected':
        effects.observe(action)
        break
    }
  }
  return undefined
}

function release(action: SendAction, self: number, effects: ActionEffects): void {
  if (action.type === 'send' && action.to === self) effects.loopback({ type: 'message', from: self, message: action.message })
  else effects.transmit(action)
}

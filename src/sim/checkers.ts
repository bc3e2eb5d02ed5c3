import type { Block } from '../core/block.ts'
import { bytesEqual, toHex } from '../core/hash.ts'

export interface SafetyViolation {
  readonly atMs: number
  readonly validator: number
  readonly height: number
  readonly description: string
}

interface CommittedTip {
  readonly height: number
  readonly id: Uint8Array
}

/**
 * Safety, checked on every commit action: (1) no two honest validators commit different blocks
 * at one height, and (2) each validator's committed sequence is a chain — every block is the
 * child (by parent QC) of the one committed before it, one height higher. Together they make
 * every honest committed chain a prefix of every other.
 */
export class SafetyChecker {
  readonly #byHeight = new Map<number, string>()
  readonly #tips = new Map<number, CommittedTip>()
  readonly #genesis: CommittedTip
  readonly violations: SafetyViolation[] = []

  constructor(genesis: Block) {
    this.#genesis = { height: genesis.height, id: genesis.id }
    this.#byHeight.set(genesis.height, toHex(genesis.id))
  }

  onCommit(validator: number, blocks: readonly Block[], atMs: number): void {
    let tip = this.#tips.get(validator) ?? this.#genesis
    for (const b of blocks) {
      if (b.height !== tip.height + 1 || !bytesEqual(b.parentQc.blockId, tip.id)) {
        this.violations.push({
          atMs,
          validator,
          height: b.height,
          description:
            `validator ${validator} committed block ${toHex(b.id).slice(0, 16)} (height ${b.height}, parent ${toHex(b.parentQc.blockId).slice(0, 16)}) ` +
            `on top of its previous commit ${toHex(tip.id).slice(0, 16)} at height ${tip.height}: not its child`,
        })
      }
      const id = toHex(b.id)
      const first = this.#byHeight.get(b.height)
      if (first === undefined) {
        this.#byHeight.set(b.height, id)
      } else if (first !== id) {
        this.violations.push({
          atMs,
          validator,
          height: b.height,
          description: `validator ${validator} committed ${id.slice(0, 16)} at height ${b.height}, another honest validator committed ${first.slice(0, 16)}`,
        })
      }
      tip = { height: b.height, id: b.id }
    }
    this.#tips.set(validator, tip)
  }

  /** Committed height of `validator` (genesis height if it never committed). */
  heightOf(validator: number): number {
    return (this.#tips.get(validator) ?? this.#genesis).height
  }

  /** Distinct blocks committed by any honest validator, genesis excluded. */
  get committedBlocks(): number {
    return this.#byHeight.size - 1
  }
}

export interface LivenessViolation {
  readonly validator: number
  readonly description: string
}

/**
 * Liveness under partial synchrony: once the network is stable (after GST, every partition
 * healed, every crashed validator recovered or given up on) and at most f validators are faulty,
 * every honest running validator commits a new block within `boundMs` of virtual time.
 */
export class LivenessChecker {
  readonly #stableFromMs: number
  readonly #boundMs: number
  /** First commit at or after `stableFromMs`, per validator. */
  readonly #progressedAt = new Map<number, number>()

  constructor(stableFromMs: number, boundMs: number) {
    this.#stableFromMs = stableFromMs
    this.#boundMs = boundMs
  }

  /** Virtual time by which the check can be decided. */
  get deadlineMs(): number {
    return this.#stableFromMs + this.#boundMs
  }

  /** Called for every commit action of an honest validator (a commit action always adds blocks). */
  onCommit(validator: number, atMs: number): void {
    if (atMs >= this.#stableFromMs && !this.#progressedAt.has(validator)) this.#progressedAt.set(validator, atMs)
  }

  /** True once every listed validator has progressed: the verdict cannot change any more. */
  allProgressed(honestRunning: readonly number[]): boolean {
    return honestRunning.every((v) => this.#progressedAt.has(v))
  }

  /** Verdict for the honest validators running at the deadline. */
  check(honestRunning: readonly number[]): LivenessViolation[] {
    const out: LivenessViolation[] = []
    for (const v of honestRunning) {
      const at = this.#progressedAt.get(v)
      if (at === undefined || at > this.deadlineMs) {
        out.push({
          validator: v,
          description:
            `validator ${v} committed nothing new between ${this.#stableFromMs.toFixed(0)} ms (network stable) and ` +
            `${this.deadlineMs.toFixed(0)} ms (bound ${this.#boundMs.toFixed(0)} ms)` +
            (at === undefined ? '' : `; first progress only at ${at.toFixed(0)} ms`),
        })
      }
    }
    return out
  }
}

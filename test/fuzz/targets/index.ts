import type { FuzzTarget } from '../engine.ts'
import { consensusTargets } from './consensus.ts'
import { coreTargets } from './core.ts'
import { framingTargets } from './framing.ts'
import { httpTargets } from './http.ts'
import { storageTargets } from './storage.ts'
import { txJsonTargets } from './tx-json.ts'

/** Every decoder that reads bytes from peers, clients or disk. */
export const ALL_TARGETS: readonly FuzzTarget<unknown>[] = [
  ...coreTargets,
  ...consensusTargets,
  ...framingTargets,
  ...txJsonTargets,
  ...httpTargets,
  ...storageTargets,
]

/**
 * Who proposes in a round. A replaceable part: the core only asks `leader(round)`, so a
 * reputation-based election can be dropped in without touching the protocol.
 */
export interface LeaderElection {
  leader(round: number): number
}

/** Round r is led by validator r mod n, in genesis order (every validator leads equally often). */
export class RoundRobin implements LeaderElection {
  readonly validators: number

  constructor(validators: number) {
    if (!Number.isInteger(validators) || validators < 1) {
      throw new RangeError(`round-robin election needs a positive validator count, got ${validators}`)
    }
    this.validators = validators
  }

  leader(round: number): number {
    return round % this.validators
  }
}

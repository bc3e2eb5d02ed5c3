import { generateKeyPairFromSeed, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromPublicKey } from '@libp2p/peer-id'
import type { Ed25519PrivateKey } from '@libp2p/interface'
import { keyPairFromSeed, SEED_BYTES } from '../core/keys.ts'

/**
 * The libp2p identity of a validator is its validator seed used directly as the Ed25519 seed, so
 * genesis can list peer ids without any extra key material and a restarted node keeps its id.
 */
export async function libp2pKeyFromSeed(seed: Uint8Array): Promise<Ed25519PrivateKey> {
  if (seed.length !== SEED_BYTES) throw new RangeError(`validator seed must be ${SEED_BYTES} bytes, got ${seed.length}`)
  return generateKeyPairFromSeed('Ed25519', seed)
}

export function peerIdOfKey(key: Ed25519PrivateKey): string {
  return peerIdFromPrivateKey(key).toString()
}

/**
 * Synchronous so genesis generation can call it in a plain loop; it derives the same public key
 * as `libp2pKeyFromSeed` (both are RFC 8032 seed expansion), which the network tests assert.
 */
export function peerIdFromSeed(seed: Uint8Array): string {
  const { publicKey } = keyPairFromSeed(seed)
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString()
}

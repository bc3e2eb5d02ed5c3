// The published @types/sodium-native (2.x) predates sodium-native 5 and types every buffer as
// Buffer; sodium-native accepts any Uint8Array. Only the functions bftlab calls are declared.
declare module 'sodium-native' {
  const sodium: {
    crypto_sign_PUBLICKEYBYTES: number
    crypto_sign_SECRETKEYBYTES: number
    crypto_sign_BYTES: number
    crypto_sign_seed_keypair(publicKey: Uint8Array, secretKey: Uint8Array, seed: Uint8Array): void
    crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void
    crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
    randombytes_buf(buffer: Uint8Array): void
    crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void
    crypto_stream_chacha20_ietf(out: Uint8Array, nonce: Uint8Array, key: Uint8Array): void
  }
  export default sodium
}

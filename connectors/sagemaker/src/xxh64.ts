// xxHash64 (seed 0) of a UTF-8 string, as hex: the hash flytekit's boto3 mixin (Python `xxhash.xxh64(...).hexdigest()`)
// takes of a rendered config to make the idempotence token. Written out here because no maintained xxHash package is
// a dependency of this workspace; follows the algorithm of the xxHash specification (doc/xxhash_spec.md).
const MASK = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & MASK;
const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK;
const round = (acc: bigint, lane: bigint): bigint => mul(rotl((acc + mul(lane, P2)) & MASK, 31n), P1);
const merge = (acc: bigint, val: bigint): bigint => ((mul(acc ^ round(0n, val), P1) + P4) & MASK);

export function xxh64Hex(text: string): string {
  const bytes = new TextEncoder().encode(text);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number): bigint => view.getBigUint64(at, true);
  const u32 = (at: number): bigint => BigInt(view.getUint32(at, true));
  const length = bytes.length;
  let offset = 0;
  let acc: bigint;
  if (length >= 32) {
    let v1 = (P1 + P2) & MASK;
    let v2 = P2;
    let v3 = 0n;
    let v4 = (0n - P1) & MASK;
    for (; offset + 32 <= length; offset += 32) {
      v1 = round(v1, u64(offset));
      v2 = round(v2, u64(offset + 8));
      v3 = round(v3, u64(offset + 16));
      v4 = round(v4, u64(offset + 24));
    }
    acc = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & MASK;
    acc = merge(merge(merge(merge(acc, v1), v2), v3), v4);
  } else {
    acc = P5;
  }
  acc = (acc + BigInt(length)) & MASK;
  for (; offset + 8 <= length; offset += 8) acc = (mul(rotl(acc ^ round(0n, u64(offset)), 27n), P1) + P4) & MASK;
  if (offset + 4 <= length) {
    acc = (mul(rotl(acc ^ mul(u32(offset), P1), 23n), P2) + P3) & MASK;
    offset += 4;
  }
  for (; offset < length; offset++) acc = mul(rotl(acc ^ mul(BigInt(bytes[offset]!), P5), 11n), P1);
  acc = mul(acc ^ (acc >> 33n), P2);
  acc = mul(acc ^ (acc >> 29n), P3);
  acc ^= acc >> 32n;
  return acc.toString(16).padStart(16, "0");
}

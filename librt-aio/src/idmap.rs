//! Maps keyed by the process's own small integers (descriptor numbers, request addresses).
//!
//! std's default hasher seeds itself from `getrandom` on each new thread, and glibc's
//! `getrandom` is a cancellation point: a thread with a pending `pthread_cancel` would be
//! cancelled inside `aio_read`. Such keys need no protection against chosen collisions, so a
//! multiplicative hash does, without SipHash's cost on the submission path.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Clone, Copy, Default)]
pub struct IdHasher(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        // The table indexes by the low bits: fold the well-mixed high half into them (request
        // addresses have zero low bits).
        self.0 ^ (self.0 >> 32)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(K);
    }
    fn write_i32(&mut self, n: i32) {
        self.write_u64(n as u32 as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

pub type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_aligned_addresses() {
        let mut m: IdMap<usize, usize> = IdMap::default();
        for i in 0..1000 {
            m.insert(0x7f00_0000_0000 + i * 128, i);
        }
        assert!((0..1000).all(|i| m[&(0x7f00_0000_0000 + i * 128)] == i));
        let mut h = IdHasher::default();
        h.write_usize(0x1000);
        let a = h.finish();
        let mut h = IdHasher::default();
        h.write_usize(0x1080);
        assert_ne!(a & 0xff, h.finish() & 0xff, "low bits differ for 128-byte-apart keys");
    }
}

//! Gives the system back the memory the C allocator keeps after a burst of work.
//!
//! glibc's malloc keeps what a program frees in its arenas and returns pages only from the top of
//! each, so after the daemon's start (parsing, laying and syncing a queue of ten thousand posts:
//! a peak of about 16 MiB) most of that peak stayed resident although about 3 MiB was still in
//! use (heaptrack). `malloc_trim(0)` hands the free pages back: on the benchmark's idle daemon,
//! about 8 MiB.
//!
//! This is the workspace's only `unsafe`: one call into glibc, which has no Rust equivalent.
//! Elsewhere (musl, other systems) [`release_freed`] does nothing.

/// Asks the allocator to return the memory it holds free to the system; true when it returned
/// some. Call it at a quiet point after a burst (the daemon calls it after each sync): glibc
/// locks each arena in turn while it walks it, a few milliseconds for a daemon's heap.
pub fn release_freed() -> bool {
    trim()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and only rearranges glibc's own free lists, under
    // glibc's own arena locks; any thread may call it at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn memory_freed_after_a_burst_can_be_given_back() {
        // Many small blocks, freed except every 64th: the holes cannot be trimmed from the top.
        let mut blocks: Vec<Vec<u8>> = (0..50_000).map(|i| vec![(i % 251) as u8; 512]).collect();
        let kept: Vec<Vec<u8>> = blocks.iter().step_by(64).cloned().collect();
        blocks.clear();
        blocks.shrink_to_fit();
        let released = super::release_freed();
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(released, "glibc returned nothing after 24 MiB were freed");
        } else {
            assert!(!released);
        }
        assert!(kept.iter().enumerate().all(|(i, b)| b[0] == ((i * 64) % 251) as u8));
    }
}

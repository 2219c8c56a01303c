//! An order-keeping map over the machine's cores. Written here rather than taken from rayon:
//! crieur needs one such map (post files, then (post, channel) pairs), and scoped threads taking
//! the next item from one counter give it in a few lines, without a pool kept for the process.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Maps `f` over `items` on up to one thread per core (the caller's among them) and returns the
/// results in `items`' order. Each thread takes the next item not yet taken, so items of very
/// different cost (a file of one post beside a file of a hundred) still share the cores evenly.
/// Runs on the calling thread alone when there is one core or fewer than `min_per_thread * 2`
/// items (a thread costs more than a few small items). Holds no lock; a panic in `f` is resumed
/// on the caller.
///
/// ```
/// let squares = crieur_core::map_parallel(&[1, 2, 3, 4], 1, |n| n * n);
/// assert_eq!(squares, vec![1, 4, 9, 16]);
/// ```
pub fn map_parallel<T, R, F>(items: &[T], min_per_thread: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let threads = cores.min(items.len() / min_per_thread.max(1));
    if threads < 2 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        // About an even share each; a thread that takes more grows its list.
        let mut done = Vec::with_capacity(items.len() / threads + 1);
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { return done };
            done.push((i, f(item)));
        }
    };
    let mut slots: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mine = work();
        let theirs = helpers
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        for (i, r) in mine.into_iter().chain(theirs) {
            slots[i] = Some(r);
        }
    });
    // Every index below `items.len()` was taken by exactly one thread, and every thread
    // returned (a panic was resumed above): no slot is empty.
    slots.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::map_parallel;

    #[test]
    fn keeps_the_order_of_the_items_whatever_their_number() {
        for n in [0, 1, 2, 3, 7, 100, 1001] {
            let items: Vec<usize> = (0..n).collect();
            for min in [1, 2, 50] {
                let out = map_parallel(&items, min, |i| i * 3);
                assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>(), "{n} items");
            }
        }
    }

    #[test]
    fn items_of_very_different_cost_all_come_back_in_order() {
        let items: Vec<u64> = (0..300).map(|i| if i % 97 == 0 { 200_000 } else { 10 }).collect();
        let sum = |n: &u64| (0..*n).fold(0u64, |a, b| a.wrapping_add(b * b));
        let out = map_parallel(&items, 1, sum);
        assert_eq!(out, items.iter().map(sum).collect::<Vec<_>>());
    }

    #[test]
    fn a_panic_in_the_map_reaches_the_caller() {
        let items: Vec<u32> = (0..64).collect();
        let caught = std::panic::catch_unwind(|| {
            map_parallel(&items, 1, |&i| if i == 63 { panic!("item {i}") } else { i })
        });
        assert!(caught.is_err());
    }
}

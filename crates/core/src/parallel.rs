//! An order-keeping map over the machine's cores. Written here rather than taken from rayon:
//! crieur needs one such map (post files, then (post, channel) pairs), and scoped threads give
//! it in a few lines without a work-stealing pool kept alive for the process.

/// Maps `f` over `items` on up to one scoped thread per core, in even chunks, and returns the
/// results in `items`' order. Runs on the calling thread when there is one core or fewer than
/// `min_per_thread * 2` items (a thread costs more than a few small items). Holds no lock; a
/// panic in `f` is resumed on the caller.
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
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::map_parallel;

    #[test]
    fn keeps_the_order_of_the_items_whatever_the_chunks() {
        for n in [0, 1, 2, 3, 7, 100, 1001] {
            let items: Vec<usize> = (0..n).collect();
            for min in [1, 2, 50] {
                let out = map_parallel(&items, min, |i| i * 3);
                assert_eq!(out, items.iter().map(|i| i * 3).collect::<Vec<_>>(), "{n} items");
            }
        }
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

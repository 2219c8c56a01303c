//! From arrivals to figures: latencies against due instants, duplicates, missing deliveries, and
//! medians of several runs with their spread.

use std::collections::HashMap;

use crate::project::Due;
use crate::receiver::Arrival;

/// What the receiver got, compared with what was due.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Check {
    /// Deliveries that were due.
    pub expected: usize,
    /// Distinct due deliveries that arrived.
    pub received: usize,
    /// Arrivals beyond the first of each delivery id (must be 0).
    pub duplicates: usize,
    /// Due deliveries that never arrived.
    pub missing: usize,
    /// Arrivals whose id was not due at all.
    pub unexpected: usize,
    /// For each delivery received, first arrival minus due instant, in milliseconds, sorted.
    pub latencies_ms: Vec<f64>,
}

impl Check {
    /// The `p`-th percentile (0 to 100, nearest rank) of the latencies; `None` without any.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        percentile(&self.latencies_ms, p)
    }

    /// The `p`-th percentile of the absolute deviations `|arrival - due|`, in milliseconds: the
    /// measure that compares a sender that may fire early with one that never does.
    pub fn abs_percentile(&self, p: f64) -> Option<f64> {
        let mut abs: Vec<f64> = self.latencies_ms.iter().map(|l| l.abs()).collect();
        abs.sort_by(f64::total_cmp);
        percentile(&abs, p)
    }

    /// How many deliveries arrived before their due instant.
    pub fn early(&self) -> usize {
        self.latencies_ms.iter().filter(|l| **l < 0.0).count()
    }

    /// True when every due delivery arrived exactly once and nothing else did.
    pub fn is_exact(&self) -> bool {
        self.duplicates == 0 && self.missing == 0 && self.unexpected == 0
    }
}

/// Compares `arrivals` with `due`.
pub fn check(due: &[Due], arrivals: &[Arrival]) -> Check {
    let mut first: HashMap<String, (jiff::Timestamp, usize)> = HashMap::with_capacity(due.len());
    for a in arrivals {
        first
            .entry(a.id.clone())
            .and_modify(|(at, n)| {
                *n += 1;
                if a.at < *at {
                    *at = a.at;
                }
            })
            .or_insert((a.at, 1));
    }
    let mut out = Check { expected: due.len(), ..Check::default() };
    let mut latencies = Vec::with_capacity(due.len());
    let mut due_ids = std::collections::HashSet::with_capacity(due.len());
    for d in due {
        let id = d.delivery_id();
        match first.get(&id) {
            Some((at, n)) => {
                out.received += 1;
                out.duplicates += n - 1;
                latencies.push(d.at.duration_until(*at).as_secs_f64() * 1000.0);
            }
            None => out.missing += 1,
        }
        due_ids.insert(id);
    }
    out.unexpected =
        first.iter().filter(|(id, _)| !due_ids.contains(*id)).map(|(_, (_, n))| *n).sum();
    latencies.sort_by(f64::total_cmp);
    out.latencies_ms = latencies;
    out
}

/// The `p`-th percentile (0 to 100) of `sorted` by nearest rank; `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The median of several runs and their spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// The median (the mean of the two middle values for an even count).
    pub median: f64,
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// How many values.
    pub n: usize,
}

impl Spread {
    /// The median, min and max of `values`; `None` when empty.
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
        Some(Spread { median, min: v[0], max: v[n - 1], n })
    }

    /// `median (min–max)` with `decimals` decimals.
    pub fn show(&self, decimals: usize) -> String {
        if self.n == 1 {
            format!("{:.*}", decimals, self.median)
        } else {
            format!(
                "{:.*} ({:.*}–{:.*})",
                decimals, self.median, decimals, self.min, decimals, self.max
            )
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    fn due(post: &str, at: &str) -> Due {
        Due { post: post.into(), channel: "hook-000".into(), at: at.parse().unwrap() }
    }

    fn arrival(id: &str, at: &str) -> Arrival {
        Arrival { id: id.into(), at: at.parse::<Timestamp>().unwrap() }
    }

    #[test]
    fn latencies_duplicates_missing_and_strays() {
        let due = [
            due("a", "2026-11-26T10:00:00Z"),
            due("b", "2026-11-26T10:00:01Z"),
            due("c", "2026-11-26T10:00:02Z"),
        ];
        let arrivals = [
            arrival("a:hook-000:0", "2026-11-26T10:00:00.004Z"),
            arrival("b:hook-000:0", "2026-11-26T10:00:01.250Z"),
            arrival("a:hook-000:0", "2026-11-26T10:00:00.900Z"),
            arrival("zz:hook-000:0", "2026-11-26T10:00:00.900Z"),
        ];
        let c = check(&due, &arrivals);
        assert_eq!(
            (c.expected, c.received, c.duplicates, c.missing, c.unexpected),
            (3, 2, 1, 1, 1)
        );
        assert_eq!(c.latencies_ms.len(), 2);
        assert!((c.latencies_ms[0] - 4.0).abs() < 1e-6, "{:?}", c.latencies_ms);
        assert!((c.latencies_ms[1] - 250.0).abs() < 1e-6);
        assert!(!c.is_exact());
        assert_eq!(c.early(), 0);
        let early = check(&due[..1], &[arrival("a:hook-000:0", "2026-11-26T09:59:59.5Z")]);
        assert_eq!(early.early(), 1);
        assert_eq!(early.percentile(50.0), Some(-500.0));
        assert_eq!(early.abs_percentile(50.0), Some(500.0));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn spreads() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(s.show(1), "2.0 (1.0–3.0)");
        assert_eq!(Spread::of(&[4.0, 1.0]).unwrap().median, 2.5);
        assert_eq!(Spread::of(&[7.0]).unwrap().show(0), "7");
        assert!(Spread::of(&[]).is_none());
    }
}

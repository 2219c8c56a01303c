//! X's weighted counter over a corpus of mixed texts (Latin, CJK, emoji, links).
//!
//! Criterion reports the time for the whole corpus and, through the throughput, texts per
//! second: one text takes the inverse.

use std::hint::black_box;

use crieur_policy::x::count_x;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PIECES: &[&str] = &[
    "Welcome to the six people who joined our Lyon office this month! ",
    "故人西辞黄鹤楼，烟花三月下扬州。",
    "👨‍👩‍👧‍👦 🙋🏽 🇫🇷 ",
    "https://example.com/careers?utm_source=x&utm_medium=social ",
    "Read more at blog.example.org/2026/03/launch. ",
    "#Hiring #OpenSource @acme ",
    "Ünïcödé çàfé naïve façade — “quotes” ",
    "あいうえおかきくけこ ",
];

fn corpus() -> Vec<String> {
    // Deterministic mixes of 1 to 8 pieces, 240 texts of 60 to 400 characters.
    (0..240usize)
        .map(|i| {
            let n = 1 + i % 8;
            (0..n).map(|k| PIECES[(i * 7 + k * 3) % PIECES.len()]).collect::<String>()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let texts = corpus();
    let mut group = c.benchmark_group("xcount");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("count_x corpus", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(count_x(black_box(t), 280));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

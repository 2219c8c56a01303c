//! The time to read and strip a phone-sized (about 4 MB) JPEG.

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};

fn four_megabyte_jpeg(c: &mut Criterion) {
    let photo =
        support::phone_jpeg(&support::plain_jpeg(&support::picture(2000, 1500, true), 95), 6);
    let megabytes = photo.len() as f64 / 1_000_000.0;
    c.bench_function(&format!("sniff a {megabytes:.1} MB JPEG"), |b| {
        b.iter(|| crieur_media::sniff(std::hint::black_box(&photo)))
    });
    c.bench_function(&format!("prepare (sniff, strip, sha256) a {megabytes:.1} MB JPEG"), |b| {
        b.iter(|| crieur_media::Media::prepare(std::hint::black_box(&photo), false))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = four_megabyte_jpeg
}
criterion_main!(benches);

//! crieur's fuzz targets share one harness: each target feeds its bytes to one function of
//! [`harness`], which the main workspace's corpus replay (`tests/fuzz_corpus.rs`) includes too, so
//! CI replays the corpus through exactly the entry points that were fuzzed.

pub mod harness;

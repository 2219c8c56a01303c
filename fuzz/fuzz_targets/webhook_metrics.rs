#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    crieur_fuzz::harness::webhook_metrics(data);
});

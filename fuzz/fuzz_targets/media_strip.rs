#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    crieur_fuzz::harness::media_strip(data);
});

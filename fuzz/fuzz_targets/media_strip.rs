#![no_main]

// The metadata stripper reads untrusted bytes: it must never panic, and what it accepts must
// strip again to the same bytes (nothing it writes is metadata it would remove).
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = crieur_media::strip(data, true);
    if let Ok(stripped) = crieur_media::strip(data, false) {
        let again =
            crieur_media::strip(&stripped.bytes, false).expect("stripped bytes strip again");
        assert_eq!(again.bytes, stripped.bytes);
    }
});

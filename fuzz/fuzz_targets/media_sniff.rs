#![no_main]

// The sniffer reads untrusted bytes: it must never panic, and what it counts must be the input.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let sniffed = crieur_media::sniff(data);
    assert_eq!(sniffed.bytes, data.len() as u64);
});

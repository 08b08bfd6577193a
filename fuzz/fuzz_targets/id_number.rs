#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| huiqian::fuzzing::id_number(data));

//! The example plugin every kit builds (`plugins/README.md`), so the tests and
//! the benchmark run the same checks on all languages.

use std::fs::File;
use std::io::Read;
use std::os::wasi::ffi::OsStringExt;

#[no_mangle]
pub extern "C" fn sum(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

#[no_mangle]
pub extern "C" fn add_i64(a: i64, b: i64) -> i64 {
    a.wrapping_add(b)
}

#[no_mangle]
pub extern "C" fn mul_f64(a: f64, b: f64) -> f64 {
    a * b
}

#[no_mangle]
pub extern "C" fn half_f32(a: f32) -> f32 {
    a / 2.0
}

#[no_mangle]
pub extern "C" fn trap() -> i32 {
    core::arch::wasm32::unreachable()
}

/// Points the host outside memory on purpose: the call must fail with
/// MemoryAccessError and leave the instance usable.
#[no_mangle]
pub extern "C" fn bad_output() -> i32 {
    unsafe { wasp::sys::output(0xFFFF_FF00_u32 as i32, 1024) };
    0
}

/// Lets the tests hit `memoryLimitPages`: -1 when the host refuses.
#[no_mangle]
pub extern "C" fn grow(pages: i32) -> i32 {
    core::arch::wasm32::memory_grow(0, pages as u32 as usize) as i32
}

wasp::import! {
    module "plugin" {
        fn call_me(name: &str) -> String;
    }
}

// Bytes rather than `&str` where the behaviour is defined on bytes, so any
// input works as it does with the other kits.
wasp::export! {
    fn hello(name: &[u8]) -> Vec<u8> {
        [b"Hello ", name].concat()
    }

    fn reverse(input: &[u8]) -> Vec<u8> {
        input.iter().rev().copied().collect()
    }

    fn callback() -> String {
        call_me("Nic")
    }

    /// A filter: an empty input drops the message.
    fn upper(input: &[u8]) -> Option<Vec<u8>> {
        if input.is_empty() {
            None
        } else {
            Some(input.to_ascii_uppercase())
        }
    }

    /// A flatMap: one output per word.
    fn words(text: &[u8]) {
        for word in text.split(|&b| b == b' ').filter(|word| !word.is_empty()) {
            wasp::output(word);
        }
    }

    fn audit(input: &[u8]) -> Result<&[u8], String> {
        wasp::emit("audit.rust", input).map_err(|code| format!("emit refused: {}", code))?;
        Ok(input)
    }

    /// `{"a":1}` -> `{"bytes":7,"a":1}`; only the outer braces are checked.
    fn json_tag(input: &[u8]) -> Result<Vec<u8>, &'static str> {
        let object = trim_ascii(input);
        if object.len() < 2 || object[0] != b'{' || object[object.len() - 1] != b'}' {
            return Err("not a JSON object");
        }
        let members = &object[1..object.len() - 1];
        let mut tagged = format!("{{\"bytes\":{}", input.len()).into_bytes();
        if !trim_ascii(members).is_empty() {
            tagged.push(b',');
            tagged.extend_from_slice(members);
        }
        tagged.push(b'}');
        Ok(tagged)
    }

    /// `<subject>;<X-Tag header>;<input>`, `-` for an absent one.
    fn tag(input: &[u8]) -> Vec<u8> {
        let subject = tag_part(wasp::read_subject);
        let header = tag_part(|buf| wasp::read_header("X-Tag", buf));
        [&subject[..], b";", &header[..], b";", input].concat()
    }

    fn fail(input: &[u8]) -> Result<(), String> {
        Err(format!("failed: {}", String::from_utf8_lossy(input)))
    }

    fn shout(message: &str) {
        wasp::log(wasp::Level::Info, message);
    }

    /// Reads the plugin's private WASI environment, not the host's.
    fn env(name: &str) -> Option<Vec<u8>> {
        // std may panic (trap) on such names instead of answering "unset".
        if name.is_empty() || name.contains(['=', '\0']) {
            return None;
        }
        std::env::var_os(name).map(OsStringExt::into_vec)
    }

    /// Reads the plugin's private WASI filesystem, not the host's.
    fn cat(path: &str) -> Result<Vec<u8>, String> {
        let mut file = File::open(path).map_err(|_| format!("cannot open {}", path))?;
        let mut content = Vec::new();
        file.read_to_end(&mut content).map_err(|_| format!("cannot read {}", path))?;
        Ok(content)
    }
}

/// A part of `tag`, read with the kit's snprintf-style `read_*` into a
/// 16-byte buffer first and, when the returned length says it did not fit,
/// again into one of that length. `wasp::subject` and `wasp::header` do the
/// same with a 64-byte first buffer; this spells it out with a smaller one so
/// that the example takes both paths. `-` when absent.
fn tag_part(mut read: impl FnMut(&mut [u8]) -> Option<usize>) -> Vec<u8> {
    let mut small = [0u8; 16];
    let len = match read(&mut small) {
        Some(len) => len,
        None => return b"-".to_vec(),
    };
    if len <= small.len() {
        return small[..len].to_vec();
    }
    let mut value = vec![0u8; len];
    // The value cannot change during the call, so it fits now.
    match read(&mut value) {
        Some(len) if len <= value.len() => {
            value.truncate(len);
            value
        }
        _ => b"-".to_vec(),
    }
}

// `<[u8]>::trim_ascii` is not stable in Rust 1.63.
fn trim_ascii(mut bytes: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = bytes {
        if !first.is_ascii_whitespace() {
            break;
        }
        bytes = rest;
    }
    while let [rest @ .., last] = bytes {
        if !last.is_ascii_whitespace() {
            break;
        }
        bytes = rest;
    }
    bytes
}

//! Kit for writing Wasp plugins in Rust. It hides ABI wasp/1 (`docs/abi/wasp-1.md`):
//! exports take their input as `&[u8]` or `&str`, return what they output,
//! and `Err` becomes the call's error message with status 1.
//!
//! ```ignore
//! wasp::export! {
//!     /// Outputs the input reversed.
//!     fn reverse(input: &[u8]) -> Vec<u8> {
//!         input.iter().rev().copied().collect()
//!     }
//!
//!     /// Outputs the file's content, or fails with a message.
//!     fn cat(path: &str) -> Result<Vec<u8>, String> {
//!         std::fs::read(path).map_err(|_| format!("cannot open {}", path))
//!     }
//! }
//!
//! wasp::import! {
//!     module "plugin" {
//!         fn call_me(name: &str) -> String;
//!     }
//! }
//! ```
//!
//! In a pipeline stage, [`subject`] and [`header`] read the message the call
//! handles.
//!
//! Linking the crate exports `wasp_alloc` and `wasp_free`, which the host
//! needs to pass strings and bytes in. Numeric exports need nothing from the
//! kit: write them as plain `#[no_mangle] pub extern "C" fn`.
//!
//! Build with `panic = "abort"`: a panic then traps, which the host reports
//! as `PluginTrapError` and answers by replacing the instance.

use std::alloc::{self, Layout};
use std::fmt::Display;
use std::ptr::NonNull;
use std::slice;

/// The raw host imports of module `wasp`. The safe functions at the crate
/// root cover them; these are here for what they cannot express, such as
/// handing the host a bad pointer on purpose.
pub mod sys {
    // rustc gives imports from an explicit wasm_import_module their own
    // symbol names, so `log` here cannot be mistaken for libm's `log`.
    #[link(wasm_import_module = "wasp")]
    extern "C" {
        pub fn output(ptr: i32, len: i32);
        pub fn error(ptr: i32, len: i32);
        pub fn emit(subject_ptr: i32, subject_len: i32, data_ptr: i32, data_len: i32) -> i32;
        pub fn log(level: i32, ptr: i32, len: i32);
        pub fn subject(buf_ptr: i32, buf_cap: i32) -> i32;
        pub fn header(name_ptr: i32, name_len: i32, buf_ptr: i32, buf_cap: i32) -> i32;
    }
}

// Wasm pointers and lengths are 32 bits wide; the host reads them unsigned.
fn raw(bytes: &[u8]) -> (i32, i32) {
    (bytes.as_ptr() as i32, bytes.len() as i32)
}

/// Hands one output of the current call to the host. Call it several times
/// to flat-map; the host copies the bytes at once.
pub fn output(bytes: &[u8]) {
    let (ptr, len) = raw(bytes);
    // SAFETY: the host only reads `len` bytes at `ptr` during the call.
    unsafe { sys::output(ptr, len) }
}

/// Sets the current call's failure message; the last one set wins. It only
/// takes effect if the export then returns a non-zero status.
pub fn set_error(message: &str) {
    let (ptr, len) = raw(message.as_bytes());
    // SAFETY: as in `output`.
    unsafe { sys::error(ptr, len) }
}

/// Emits `data` to `subject` as a side output. `Err` carries the host's
/// negative code: `-1` no emitter, `-2` subject not allowed, `-3` bad pointer.
pub fn emit(subject: &str, data: &[u8]) -> Result<(), i32> {
    let (subject_ptr, subject_len) = raw(subject.as_bytes());
    let (data_ptr, data_len) = raw(data);
    // SAFETY: as in `output`.
    match unsafe { sys::emit(subject_ptr, subject_len, data_ptr, data_len) } {
        0 => Ok(()),
        code => Err(code),
    }
}

/// A level of the host's logger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Level {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
}

/// Sends a message to the host's logger.
pub fn log(level: Level, message: &str) {
    let (ptr, len) = raw(message.as_bytes());
    // SAFETY: as in `output`.
    unsafe { sys::log(level as i32, ptr, len) }
}

// The current message (pipeline stages). Both imports copy into a buffer we
// provide, snprintf-style: they return the value's length in bytes and write
// it only when it fits, or -1 when there is no value.

fn snprintf_result(returned: i32) -> Option<usize> {
    if returned < 0 {
        None
    } else {
        Some(returned as usize)
    }
}

/// Copies the current message's subject into `buf` when it fits and returns
/// its length in bytes; `None` when the call handles no message. A length
/// larger than `buf.len()` means nothing was written: call again with a
/// buffer of that size. [`subject`] does that for you.
pub fn read_subject(buf: &mut [u8]) -> Option<usize> {
    // SAFETY: the host writes at most `buf.len()` bytes at `buf`, during the call.
    snprintf_result(unsafe { sys::subject(buf.as_mut_ptr() as i32, buf.len() as i32) })
}

/// Copies the first value of the header `name` (matched case-sensitively)
/// into `buf` when it fits, as [`read_subject`]; `None` when the message has
/// no such header or there is no message. [`header`] does the retrying.
pub fn read_header(name: &str, buf: &mut [u8]) -> Option<usize> {
    let (name_ptr, name_len) = raw(name.as_bytes());
    // SAFETY: as in `read_subject`; the host only reads the name.
    snprintf_result(unsafe { sys::header(name_ptr, name_len, buf.as_mut_ptr() as i32, buf.len() as i32) })
}

// Reads into a small stack buffer first and, when the value is longer, again
// into a heap block of the length the host returned.
fn read_value(mut read: impl FnMut(&mut [u8]) -> Option<usize>) -> Option<Vec<u8>> {
    let mut small = [0u8; 64];
    let len = read(&mut small)?;
    if len <= small.len() {
        return Some(small[..len].to_vec());
    }
    let mut value = vec![0u8; len];
    loop {
        // The value cannot change during a call; the loop only makes sure we
        // never trust a length we have not just been given room for.
        let len = read(&mut value)?;
        if len <= value.len() {
            value.truncate(len);
            return Some(value);
        }
        value.resize(len, 0);
    }
}

// The host encodes strings as UTF-8; anything else is replaced, not trusted.
fn into_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(string) => string,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// The current message's subject as bytes; `None` when the call handles no
/// message (outside a pipeline, unless the host set one).
pub fn subject_bytes() -> Option<Vec<u8>> {
    read_value(read_subject)
}

/// The current message's subject; `None` when the call handles no message.
pub fn subject() -> Option<String> {
    subject_bytes().map(into_string)
}

/// The first value of the header `name` (case-sensitive) as bytes; `None`
/// when the message has no such header or there is no message.
pub fn header_bytes(name: &str) -> Option<Vec<u8>> {
    read_value(|buf| read_header(name, buf))
}

/// The first value of the header `name` (case-sensitive); `None` when the
/// message has no such header or there is no message.
pub fn header(name: &str) -> Option<String> {
    header_bytes(name).map(into_string)
}

/// ABI: the WASI reactor initializer, which the host calls once before
/// anything else.
///
/// A Rust cdylib has no `_initialize` of its own. Without one, wasm-ld
/// treats the module as a command and wraps every export (even `wasp_alloc`)
/// in a call to the static constructors: wasi-libc would then register its
/// preopened directories again on each call, leaking memory and making a
/// WASI call every time. Referring to `__wasm_call_ctors` here is what tells
/// wasm-ld that the module runs them itself.
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
#[no_mangle]
pub extern "C" fn _initialize() {
    extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: the host calls `_initialize` exactly once, before any export.
    unsafe { __wasm_call_ctors() }
}

// Align 1, exactly what a `Vec<u8>` of that capacity allocates, so a block
// the host filled can be adopted by a Vec without a copy (`take_bytes`).
// Sizes past isize::MAX (a "negative" i32) have no layout: wasp_alloc says 0.
fn block_layout(size: i32) -> Option<Layout> {
    Layout::array::<u8>(size as u32 as usize).ok()
}

/// ABI: a block of at least `size` bytes for the host to write into, or 0.
#[no_mangle]
pub extern "C" fn wasp_alloc(size: i32) -> i32 {
    let layout = match block_layout(size) {
        Some(layout) => layout,
        None => return 0,
    };
    if layout.size() == 0 {
        // The global allocator must not be asked for zero bytes, and 0 would
        // read as failure: any other address holds an empty block.
        return NonNull::<u8>::dangling().as_ptr() as i32;
    }
    // SAFETY: the layout has a non-zero size. Null (out of memory) is 0.
    unsafe { alloc::alloc(layout) as i32 }
}

/// ABI: frees a block from `wasp_alloc`, given the same `size`.
///
/// # Safety
///
/// `ptr` must come from `wasp_alloc(size)` and not have been freed yet.
#[no_mangle]
pub unsafe extern "C" fn wasp_free(ptr: i32, size: i32) {
    if ptr == 0 {
        return;
    }
    if let Some(layout) = block_layout(size) {
        if layout.size() > 0 {
            alloc::dealloc(ptr as u32 as usize as *mut u8, layout);
        }
    }
}

/// Takes ownership of a block a host callback returned as
/// `(ptr << 32) | len`; dropping the Vec frees it. `0` is the empty result.
///
/// # Safety
///
/// `packed` must be 0 or come straight from a callback: a block the host got
/// from `wasp_alloc(len)` and that nothing else owns.
pub unsafe fn take_bytes(packed: i64) -> Vec<u8> {
    let ptr = (packed as u64 >> 32) as u32 as usize as *mut u8;
    let len = packed as u32 as usize;
    if ptr.is_null() || len == 0 {
        // Nothing was allocated, or wasp_alloc(0) gave a dangling address.
        return Vec::new();
    }
    // SAFETY: wasp_alloc allocated `len` bytes with Vec<u8>'s own layout.
    Vec::from_raw_parts(ptr, len, len)
}

/// `take_bytes` for a callback declared to return a string. The host encodes
/// strings as UTF-8; anything else is replaced rather than trusted.
///
/// # Safety
///
/// As for `take_bytes`.
pub unsafe fn take_string(packed: i64) -> String {
    into_string(take_bytes(packed))
}

/// What an export generated by [`export!`] can take its input as.
pub trait Input<'a>: Sized {
    /// `Err` fails the call with that message and status 1.
    fn from_input(bytes: &'a [u8]) -> Result<Self, String>;
}

impl<'a> Input<'a> for &'a [u8] {
    fn from_input(bytes: &'a [u8]) -> Result<Self, String> {
        Ok(bytes)
    }
}

impl<'a> Input<'a> for &'a str {
    fn from_input(bytes: &'a [u8]) -> Result<Self, String> {
        std::str::from_utf8(bytes).map_err(|_| "input is not valid UTF-8".to_string())
    }
}

/// What the body of an export generated by [`export!`] can return: `finish`
/// hands it to the host and gives the call's status.
///
/// - `()` and `None` give no output (a filter drops the message);
/// - bytes and strings give one output;
/// - `Err(e)` sets `e` as the error message and gives status 1; outputs
///   already made with [`output`] are then discarded by the host.
pub trait Outcome {
    fn finish(self) -> i32;
}

impl Outcome for () {
    fn finish(self) -> i32 {
        0
    }
}

impl Outcome for &[u8] {
    fn finish(self) -> i32 {
        output(self);
        0
    }
}

impl Outcome for &str {
    fn finish(self) -> i32 {
        self.as_bytes().finish()
    }
}

impl Outcome for Vec<u8> {
    fn finish(self) -> i32 {
        self.as_slice().finish()
    }
}

impl Outcome for String {
    fn finish(self) -> i32 {
        self.as_bytes().finish()
    }
}

impl<T: Outcome> Outcome for Option<T> {
    fn finish(self) -> i32 {
        match self {
            Some(value) => value.finish(),
            None => 0,
        }
    }
}

impl<T: Outcome, E: Display> Outcome for Result<T, E> {
    fn finish(self) -> i32 {
        match self {
            Ok(value) => value.finish(),
            Err(error) => {
                set_error(&error.to_string());
                1
            }
        }
    }
}

/// What a callback imported with [`import!`] can return.
pub trait FromBlock: Sized {
    /// # Safety
    ///
    /// As for [`take_bytes`].
    unsafe fn from_block(packed: i64) -> Self;
}

impl FromBlock for Vec<u8> {
    unsafe fn from_block(packed: i64) -> Self {
        take_bytes(packed)
    }
}

impl FromBlock for String {
    unsafe fn from_block(packed: i64) -> Self {
        take_string(packed)
    }
}

#[doc(hidden)]
pub unsafe fn __input<'a>(ptr: i32, len: i32) -> &'a [u8] {
    // An empty input is (0, 0), and a slice may not start at null.
    if len == 0 {
        return &[];
    }
    slice::from_raw_parts(ptr as u32 as usize as *const u8, len as u32 as usize)
}

#[doc(hidden)]
pub fn __fail_input(message: &str) -> i32 {
    set_error(message);
    1
}

/// Defines string/bytes exports. Each function takes no input or one input
/// (`&[u8]`, or `&str`, which fails the call when the input is not UTF-8) and
/// returns an [`Outcome`]; it becomes `extern "C" fn name(ptr, len) -> i32`
/// (or `fn name() -> i32`) with the status the ABI expects.
///
/// ```ignore
/// wasp::export! {
///     fn hello(name: &str) -> String {
///         format!("Hello {}", name)
///     }
///
///     fn words(text: &[u8]) {
///         for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
///             wasp::output(word);
///         }
///     }
/// }
/// ```
#[macro_export]
macro_rules! export {
    () => {};
    (
        $(#[$attr:meta])*
        fn $name:ident() $(-> $ret:ty)? $body:block
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        #[no_mangle]
        pub extern "C" fn $name() -> i32 {
            fn $name() $(-> $ret)? $body
            $crate::Outcome::finish($name())
        }
        $crate::export! { $($rest)* }
    };
    (
        $(#[$attr:meta])*
        fn $name:ident($arg:ident : $ty:ty) $(-> $ret:ty)? $body:block
        $($rest:tt)*
    ) => {
        $(#[$attr])*
        #[no_mangle]
        pub extern "C" fn $name(ptr: i32, len: i32) -> i32 {
            fn $name($arg: $ty) $(-> $ret)? $body
            // SAFETY: the host passes a block of `len` bytes that stays alive
            // until this returns, or (0, 0); `$name` cannot keep a reference
            // to it because its signature ties the input to the call.
            let bytes = unsafe { $crate::__input(ptr, len) };
            match <$ty as $crate::Input>::from_input(bytes) {
                Ok(input) => $crate::Outcome::finish($name(input)),
                Err(message) => $crate::__fail_input(&message),
            }
        }
        $crate::export! { $($rest)* }
    };
}

/// Imports host callbacks (`engine.addCallback(module, name, fn, ...)`) that
/// take one string or bytes (`&str` or `&[u8]`) and return a string or bytes
/// (`String` or `Vec<u8>`), as safe functions. The returned block is adopted,
/// so it is freed when the result is dropped.
///
/// ```ignore
/// wasp::import! {
///     module "plugin" {
///         fn call_me(name: &str) -> String;
///     }
/// }
/// ```
///
/// Callbacks with numeric parameters or results need no help: declare them
/// in a `#[link(wasm_import_module = "...")] extern "C"` block.
#[macro_export]
macro_rules! import {
    ($(
        module $module:literal {
            $(
                $(#[$attr:meta])*
                fn $name:ident($arg:ident : $ty:ty) -> $ret:ty;
            )*
        }
    )*) => {$($(
        $(#[$attr])*
        pub fn $name($arg: $ty) -> $ret {
            #[link(wasm_import_module = $module)]
            extern "C" {
                fn $name(ptr: i32, len: i32) -> i64;
            }
            let bytes: &[u8] = ::core::convert::AsRef::<[u8]>::as_ref($arg);
            // SAFETY: the host only reads the input during the call, and what
            // it returns is a fresh block this function now owns.
            unsafe {
                let packed = $name(bytes.as_ptr() as i32, bytes.len() as i32);
                <$ret as $crate::FromBlock>::from_block(packed)
            }
        }
    )*)*};
}

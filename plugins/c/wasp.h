/*
 * wasp.h - the C kit for ABI wasp/1 (see docs/abi/wasp-1.md).
 *
 * A single header. Include it from exactly ONE .c file of a plugin: that file
 * gets the definitions of the exported allocator (wasp_alloc / wasp_free), and
 * a second definition would be a duplicate symbol at link time. Other .c files
 * of the same plugin that want the declarations and helpers define
 * WASP_NO_ALLOCATOR before including it.
 *
 * Build with wasi-libc, as a reactor (a library the host calls into, with an
 * `_initialize` export rather than a `_start`):
 *
 *     clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 \
 *           -g0 -Wl,--strip-all -o plugin.wasm plugin.c
 *
 * What the kit covers:
 *   - WASP_EXPORT(name) marks a function as a plugin export;
 *   - the `wasp` host imports (output, error, emit, log, subject, header) and
 *     helpers over them;
 *   - wasp_alloc / wasp_free, through which the host passes strings and bytes
 *     in and returns callback results;
 *   - WASP_IMPORT / WASP_STRING_CALLBACK and wasp_unpack for user callbacks.
 *
 * A string or bytes parameter arrives as (const uint8_t *ptr, size_t len),
 * UTF-8 without a terminator; an empty one is (NULL, 0). The block is the
 * host's and is freed when the export returns, so never keep the pointer.
 * Such an export returns an int32_t status (WASP_OK, or non-zero on failure)
 * and hands its result over with wasp_output_*: zero, one or several outputs.
 */
#ifndef WASP_H
#define WASP_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__wasm32__)
#error "wasp.h targets wasm32: compile with clang --target=wasm32-wasi"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Exports and imports                                                      */
/* ------------------------------------------------------------------------ */

/* Marks a function as an export of the module under `name`, e.g.
 *     WASP_EXPORT(sum) int32_t sum(int32_t a, int32_t b) { return a + b; }
 * The linker keeps every function so marked, and only those (plus memory and
 * _initialize), so nothing else leaks into the plugin's interface. */
#define WASP_EXPORT(name) __attribute__((export_name(#name)))

/* Marks a function declaration as an import `module.name`. The host resolves
 * imports by these two names, not by the C name, so the C name is free. */
#define WASP_IMPORT(module, name) \
    __attribute__((import_module(#module), import_name(#name)))

/* Statuses an export taking a string or bytes returns. Any non-zero value is a
 * failure; the host reports it with the message set by wasp_set_error. */
#define WASP_OK 0
#define WASP_FAIL 1

/* ------------------------------------------------------------------------ */
/* Host imports (module `wasp`)                                             */
/* ------------------------------------------------------------------------ */

/* The raw imports, named wasp_import_* in C so that the friendlier helpers
 * below can take the short names. The linker imports only the ones a plugin
 * actually calls, which matters: the host refuses any `wasp` import it does
 * not know, but also does not require the ones it knows. */
WASP_IMPORT(wasp, output)
void wasp_import_output(const void *ptr, size_t len);

WASP_IMPORT(wasp, error)
void wasp_import_error(const void *ptr, size_t len);

WASP_IMPORT(wasp, emit)
int32_t wasp_import_emit(const void *subject_ptr, size_t subject_len,
                         const void *data_ptr, size_t data_len);

WASP_IMPORT(wasp, log)
void wasp_import_log(int32_t level, const void *ptr, size_t len);

WASP_IMPORT(wasp, subject)
int32_t wasp_import_subject(void *buf_ptr, size_t buf_cap);

WASP_IMPORT(wasp, header)
int32_t wasp_import_header(const void *name_ptr, size_t name_len,
                           void *buf_ptr, size_t buf_cap);

/* Log levels of wasp_log. */
typedef enum wasp_log_level {
    WASP_LOG_TRACE = 0,
    WASP_LOG_DEBUG = 1,
    WASP_LOG_INFO = 2,
    WASP_LOG_WARN = 3,
    WASP_LOG_ERROR = 4
} wasp_log_level;

/* What wasp_emit returns when the host refuses the side output. */
#define WASP_EMIT_OK 0
#define WASP_EMIT_NO_EMITTER (-1)
#define WASP_EMIT_SUBJECT_NOT_ALLOWED (-2)
#define WASP_EMIT_BAD_POINTER (-3)

/* One output of the current call. The host copies the bytes at once, so the
 * buffer may be on the stack or freed right after. Calling it several times
 * gives several outputs (a flatMap); not calling it gives none (a filter). */
static inline void wasp_output_bytes(const void *data, size_t len) {
    wasp_import_output(data, len);
}

/* One output: a NUL-terminated string, without the NUL. */
static inline void wasp_output_str(const char *s) {
    wasp_import_output(s, strlen(s));
}

/* Sets the failure message of the current call; the last one set wins. It
 * only matters if the export then returns a non-zero status. */
static inline void wasp_set_error_bytes(const void *msg, size_t len) {
    wasp_import_error(msg, len);
}

static inline void wasp_set_error(const char *msg) {
    wasp_import_error(msg, strlen(msg));
}

/* Sends `data` to `subject` beside the call's outputs. Returns WASP_EMIT_OK,
 * or a negative WASP_EMIT_* code when the host refused it. */
static inline int wasp_emit(const char *subject, const void *data, size_t len) {
    return wasp_import_emit(subject, strlen(subject), data, len);
}

/* A message to the host's logger. */
static inline void wasp_log_bytes(wasp_log_level level, const void *msg, size_t len) {
    wasp_import_log((int32_t)level, msg, len);
}

static inline void wasp_log(wasp_log_level level, const char *msg) {
    wasp_import_log((int32_t)level, msg, strlen(msg));
}

/* ------------------------------------------------------------------------ */
/* The current message (pipeline stages)                                    */
/* ------------------------------------------------------------------------ */

/* What the message functions return when there is nothing to read: the call
 * handles no message, or the message has no such header. */
#define WASP_ABSENT (-1)
/* What the *_dup functions return when malloc gave up. */
#define WASP_NO_MEMORY (-2)

/* The current message's subject, snprintf-style: returns its length in bytes
 * and copies it into `buf` (UTF-8, no NUL) only when it fits in `cap` bytes;
 * WASP_ABSENT when the call handles no message. A result larger than `cap`
 * means nothing was written: call again with a buffer of that size. */
static inline int32_t wasp_subject(char *buf, size_t cap) {
    return wasp_import_subject(buf, cap);
}

/* The first value of the header `name` (name_len bytes, matched
 * case-sensitively), snprintf-style as wasp_subject; WASP_ABSENT when the
 * message has no such header or there is no message. */
static inline int32_t wasp_header_bytes(const void *name, size_t name_len,
                                        char *buf, size_t cap) {
    return wasp_import_header(name, name_len, buf, cap);
}

/* wasp_header_bytes for a NUL-terminated name. */
static inline int32_t wasp_header(const char *name, char *buf, size_t cap) {
    return wasp_import_header(name, strlen(name), buf, cap);
}

/* Asks for the size, then reads into a block of exactly that size (plus a
 * NUL), asking again in the unlikely case the value outgrew it. */
static inline int32_t wasp__dup(const void *name, size_t name_len, int is_header,
                                char **out) {
    *out = NULL;
    int32_t len = is_header ? wasp_import_header(name, name_len, NULL, 0)
                            : wasp_import_subject(NULL, 0);
    for (;;) {
        if (len < 0) {
            return WASP_ABSENT;
        }
        char *buf = malloc((size_t)len + 1);
        if (buf == NULL) {
            return WASP_NO_MEMORY;
        }
        int32_t got = is_header
            ? wasp_import_header(name, name_len, buf, (size_t)len)
            : wasp_import_subject(buf, (size_t)len);
        if (got >= 0 && got <= len) {
            buf[got] = '\0';
            *out = buf;
            return got;
        }
        free(buf);
        len = got;
    }
}

/* The current message's subject in a fresh malloc'd, NUL-terminated string
 * stored in *out (free it with free()). Returns its length in bytes,
 * WASP_ABSENT when there is no message, or WASP_NO_MEMORY; *out is NULL
 * unless it returned a length. */
static inline int32_t wasp_subject_dup(char **out) {
    return wasp__dup(NULL, 0, 0, out);
}

/* The first value of the header `name` in a fresh malloc'd, NUL-terminated
 * string, as wasp_subject_dup; WASP_ABSENT when there is no such header. */
static inline int32_t wasp_header_dup(const char *name, char **out) {
    return wasp__dup(name, strlen(name), 1, out);
}

/* ------------------------------------------------------------------------ */
/* Allocator                                                                */
/* ------------------------------------------------------------------------ */

/* The host calls wasp_alloc to place strings and bytes in the plugin's memory
 * (export arguments, callback results) and wasp_free to give back the blocks
 * of arguments. A plugin frees callback results itself with wasp_free. */
void *wasp_alloc(size_t size);
void wasp_free(void *ptr, size_t size);

#ifndef WASP_NO_ALLOCATOR
/* Plain malloc/free: the host's blocks then share the heap with the plugin's
 * own, and a plugin may free a callback result with free() as well. malloc
 * returns NULL (0) when it cannot grow memory, which the ABI asks for. */
WASP_EXPORT(wasp_alloc) void *wasp_alloc(size_t size) {
    return malloc(size);
}

/* The ABI passes the size back, but free() does not need it. */
WASP_EXPORT(wasp_free) void wasp_free(void *ptr, size_t size) {
    (void)size;
    free(ptr);
}
#endif /* WASP_NO_ALLOCATOR */

/* ------------------------------------------------------------------------ */
/* User callbacks                                                           */
/* ------------------------------------------------------------------------ */

/* A callback returning a string or bytes returns one i64, `(ptr << 32) | len`,
 * naming a block the host got from wasp_alloc(len). 0 is an empty result. */
typedef int64_t wasp_packed;

/* Declares the callback `module.name` taking a string and returning a string
 * (Wasm signature (i32, i32) -> i64) as the C function `name`, e.g.
 *     WASP_STRING_CALLBACK(plugin, call_me);
 *     wasp_block r = wasp_unpack(call_me("Nic", 3));
 * For other signatures write the declaration with WASP_IMPORT directly, with
 * a (const void *, size_t) pair for each string or bytes parameter. */
#define WASP_STRING_CALLBACK(module, name) \
    WASP_IMPORT(module, name) wasp_packed name(const void *ptr, size_t len)

/* A callback's string or bytes result, owned by the plugin. */
typedef struct wasp_block {
    uint8_t *ptr; /* NULL for an empty result */
    size_t len;
} wasp_block;

/* Splits a packed result. The shifts are on the unsigned value so a pointer
 * with the top bit set does not sign-extend. */
static inline wasp_block wasp_unpack(wasp_packed packed) {
    uint64_t bits = (uint64_t)packed;
    wasp_block block;
    block.ptr = (uint8_t *)(uintptr_t)(uint32_t)(bits >> 32);
    block.len = (size_t)(uint32_t)bits;
    return block;
}

/* Frees a callback result, passing back the size it was allocated with. */
static inline void wasp_block_free(wasp_block block) {
    if (block.ptr != NULL) {
        wasp_free(block.ptr, block.len);
    }
}

#ifdef __cplusplus
}
#endif

#endif /* WASP_H */

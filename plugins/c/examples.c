/*
 * The example plugin in C. It exports the functions listed in
 * plugins/README.md, so the tests and the benchmark run the same checks on
 * every kit. Build it with `node plugins/build.mjs c`.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wasp.h"

/* The host callback the `callback` export calls: string -> string. */
WASP_STRING_CALLBACK(plugin, call_me);

/* Fails the call when malloc gave up, rather than trapping on NULL. */
static int32_t out_of_memory(void) {
    wasp_set_error("out of memory");
    return 2;
}

/* Writes `value` in decimal to `buf` (at least 21 bytes) and returns the
 * length. Hand-written so the plugin does not link printf for two numbers. */
static size_t format_i64(char *buf, int64_t value) {
    char digits[20];
    size_t n = 0, len = 0;
    /* Work on the magnitude as unsigned so INT64_MIN does not overflow. */
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    do {
        digits[n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    if (value < 0) {
        buf[len++] = '-';
    }
    while (n > 0) {
        buf[len++] = digits[--n];
    }
    return len;
}

/* Sets the error `prefix` + the given bytes. */
static int32_t fail_with(const char *prefix, const uint8_t *ptr, size_t len) {
    size_t prefix_len = strlen(prefix);
    char *msg = malloc(prefix_len + len + 1); /* +1: malloc(0) may be NULL */
    if (msg == NULL) {
        return out_of_memory();
    }
    memcpy(msg, prefix, prefix_len);
    if (len > 0) {
        memcpy(msg + prefix_len, ptr, len);
    }
    wasp_set_error_bytes(msg, prefix_len + len);
    free(msg);
    return WASP_FAIL;
}

/* Copies the input into a NUL-terminated string for the libc calls. */
static char *to_cstring(const uint8_t *ptr, size_t len) {
    char *s = malloc(len + 1);
    if (s != NULL) {
        if (len > 0) {
            memcpy(s, ptr, len);
        }
        s[len] = '\0';
    }
    return s;
}

/* ---- numbers ---------------------------------------------------------- */

/* Unsigned arithmetic: signed overflow is undefined in C, and the ABI wants
 * the wrapping Wasm add. */
WASP_EXPORT(sum) int32_t sum(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

WASP_EXPORT(add_i64) int64_t add_i64(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

WASP_EXPORT(mul_f64) double mul_f64(double a, double b) {
    return a * b;
}

WASP_EXPORT(half_f32) float half_f32(float a) {
    return a / 2.0f;
}

/* ---- strings and bytes ------------------------------------------------ */

WASP_EXPORT(hello) int32_t hello(const uint8_t *ptr, size_t len) {
    static const char prefix[] = "Hello ";
    size_t prefix_len = sizeof prefix - 1;
    char *out = malloc(prefix_len + len);
    if (out == NULL) {
        return out_of_memory();
    }
    memcpy(out, prefix, prefix_len);
    if (len > 0) {
        memcpy(out + prefix_len, ptr, len);
    }
    wasp_output_bytes(out, prefix_len + len);
    free(out);
    return WASP_OK;
}

WASP_EXPORT(reverse) int32_t reverse(const uint8_t *ptr, size_t len) {
    uint8_t *out = malloc(len + 1); /* +1: malloc(0) may be NULL */
    if (out == NULL) {
        return out_of_memory();
    }
    for (size_t i = 0; i < len; i++) {
        out[i] = ptr[len - 1 - i];
    }
    wasp_output_bytes(out, len);
    free(out);
    return WASP_OK;
}

/* An empty input gives no output, so in a pipeline it drops the message. */
WASP_EXPORT(upper) int32_t upper(const uint8_t *ptr, size_t len) {
    if (len == 0) {
        return WASP_OK;
    }
    uint8_t *out = malloc(len);
    if (out == NULL) {
        return out_of_memory();
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t c = ptr[i];
        /* ASCII only: bytes of multi-byte UTF-8 sequences are >= 0x80. */
        out[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
    }
    wasp_output_bytes(out, len);
    free(out);
    return WASP_OK;
}

/* One output per word: a flatMap. The outputs point into the input, which is
 * fine because the host copies each one at once. */
WASP_EXPORT(words) int32_t words(const uint8_t *ptr, size_t len) {
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || ptr[i] == ' ') {
            if (i > start) {
                wasp_output_bytes(ptr + start, i - start);
            }
            start = i + 1;
        }
    }
    return WASP_OK;
}

WASP_EXPORT(audit) int32_t audit(const uint8_t *ptr, size_t len) {
    int code = wasp_emit("audit.c", ptr, len);
    if (code != WASP_EMIT_OK) {
        char msg[64] = "emit refused: ";
        size_t n = strlen(msg);
        n += format_i64(msg + n, code);
        wasp_set_error_bytes(msg, n);
        return WASP_FAIL;
    }
    wasp_output_bytes(ptr, len);
    return WASP_OK;
}

/* ASCII white space as JSON and the WHATWG define it. */
static int is_space(uint8_t c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Inserts "bytes":N as the first member of a JSON object. It only checks the
 * braces, not the whole syntax. The output is the trimmed object. */
WASP_EXPORT(json_tag) int32_t json_tag(const uint8_t *ptr, size_t len) {
    size_t start = 0, end = len;
    while (start < end && is_space(ptr[start])) {
        start++;
    }
    while (end > start && is_space(ptr[end - 1])) {
        end--;
    }
    if (end - start < 2 || ptr[start] != '{' || ptr[end - 1] != '}') {
        wasp_set_error("not a JSON object");
        return WASP_FAIL;
    }
    /* A comma after the new member only if the object has members already. */
    int has_members = 0;
    for (size_t i = start + 1; i < end - 1; i++) {
        if (!is_space(ptr[i])) {
            has_members = 1;
            break;
        }
    }
    static const char key[] = "\"bytes\":";
    size_t key_len = sizeof key - 1;
    char number[21];
    size_t number_len = format_i64(number, (int64_t)len);
    size_t rest = end - start - 1; /* everything after the '{' */
    size_t out_len = 1 + key_len + number_len + (size_t)has_members + rest;
    char *out = malloc(out_len);
    if (out == NULL) {
        return out_of_memory();
    }
    char *p = out;
    *p++ = '{';
    memcpy(p, key, key_len);
    p += key_len;
    memcpy(p, number, number_len);
    p += number_len;
    if (has_members) {
        *p++ = ',';
    }
    memcpy(p, ptr + start + 1, rest);
    wasp_output_bytes(out, out_len);
    free(out);
    return WASP_OK;
}

/* A part of `tag`: the subject (name NULL) or a header value, or "-" when
 * absent. It is read into the 16-byte `small` first and, when the returned
 * length says it did not fit, again into a block of that length, which
 * *owned then holds for the caller to free. Returns the length, or -1 when
 * malloc gave up (or the host answered nonsense). */
static int32_t tag_part(const char *name, char *small, char **owned, const char **part) {
    *owned = NULL;
    int32_t len = name == NULL ? wasp_subject(small, 16) : wasp_header(name, small, 16);
    if (len == WASP_ABSENT) {
        *part = "-";
        return 1;
    }
    if (len <= 16) {
        *part = small;
        return len;
    }
    char *big = malloc((size_t)len);
    if (big == NULL) {
        return -1;
    }
    /* The value cannot change during the call, so it fits now; the check
     * only keeps a misbehaving host from making us read past the block. */
    int32_t cap = len;
    len = name == NULL ? wasp_subject(big, (size_t)cap) : wasp_header(name, big, (size_t)cap);
    if (len < 0 || len > cap) {
        free(big);
        return -1;
    }
    *owned = big;
    *part = big;
    return len;
}

/* <subject>;<X-Tag header>;<input>, "-" for an absent one. */
WASP_EXPORT(tag) int32_t tag(const uint8_t *ptr, size_t len) {
    char subject_small[16], header_small[16];
    char *subject_owned, *header_owned;
    const char *subject, *header;
    int32_t subject_len = tag_part(NULL, subject_small, &subject_owned, &subject);
    int32_t header_len = tag_part("X-Tag", header_small, &header_owned, &header);
    char *out = NULL;
    if (subject_len >= 0 && header_len >= 0) {
        out = malloc((size_t)subject_len + 1 + (size_t)header_len + 1 + len);
    }
    if (out == NULL) {
        free(subject_owned);
        free(header_owned);
        return out_of_memory();
    }
    char *p = out;
    memcpy(p, subject, (size_t)subject_len);
    p += subject_len;
    *p++ = ';';
    memcpy(p, header, (size_t)header_len);
    p += header_len;
    *p++ = ';';
    if (len > 0) {
        memcpy(p, ptr, len);
        p += len;
    }
    wasp_output_bytes(out, (size_t)(p - out));
    free(out);
    free(subject_owned);
    free(header_owned);
    return WASP_OK;
}

WASP_EXPORT(fail) int32_t fail(const uint8_t *ptr, size_t len) {
    return fail_with("failed: ", ptr, len);
}

WASP_EXPORT(shout) int32_t shout(const uint8_t *ptr, size_t len) {
    wasp_log_bytes(WASP_LOG_INFO, ptr, len);
    return WASP_OK;
}

/* ---- callbacks -------------------------------------------------------- */

WASP_EXPORT(callback) int32_t callback(void) {
    static const char name[] = "Nic";
    wasp_block result = wasp_unpack(call_me(name, sizeof name - 1));
    wasp_output_bytes(result.ptr, result.len);
    wasp_block_free(result);
    return WASP_OK;
}

/* ---- misbehaviour, for the host's failure handling -------------------- */

WASP_EXPORT(trap) int32_t trap(void) {
    __builtin_trap(); /* the Wasm `unreachable` instruction */
}

/* An output far outside memory: the host must fail the call, not crash. */
WASP_EXPORT(bad_output) int32_t bad_output(void) {
    wasp_output_bytes((const void *)(uintptr_t)0xFFFFFF00u, 1024);
    return WASP_OK;
}

/* memory.grow: the previous size in pages, or -1 when the host refuses. */
WASP_EXPORT(grow) int32_t grow(int32_t pages) {
    return (int32_t)__builtin_wasm_memory_grow(0, (size_t)(uint32_t)pages);
}

/* ---- WASI ------------------------------------------------------------- */

/* No output when the variable is unset; an empty one when it is empty. */
WASP_EXPORT(env) int32_t env(const uint8_t *ptr, size_t len) {
    char *name = to_cstring(ptr, len);
    if (name == NULL) {
        return out_of_memory();
    }
    const char *value = getenv(name);
    free(name);
    if (value != NULL) {
        wasp_output_str(value);
    }
    return WASP_OK;
}

/* Reads with open/read rather than stdio, which would link buffering and
 * printf machinery the plugin does not need. */
WASP_EXPORT(cat) int32_t cat(const uint8_t *ptr, size_t len) {
    char *path = to_cstring(ptr, len);
    if (path == NULL) {
        return out_of_memory();
    }
    int fd = open(path, O_RDONLY);
    free(path);
    if (fd < 0) {
        return fail_with("cannot open ", ptr, len);
    }
    size_t size = 0, capacity = 4096;
    uint8_t *data = malloc(capacity);
    if (data == NULL) {
        close(fd);
        return out_of_memory();
    }
    for (;;) {
        if (size == capacity) {
            uint8_t *bigger = realloc(data, capacity * 2);
            if (bigger == NULL) {
                free(data);
                close(fd);
                return out_of_memory();
            }
            data = bigger;
            capacity *= 2;
        }
        ssize_t n = read(fd, data + size, capacity - size);
        if (n < 0) {
            free(data);
            close(fd);
            return fail_with("cannot read ", ptr, len);
        }
        if (n == 0) {
            break;
        }
        size += (size_t)n;
    }
    close(fd);
    wasp_output_bytes(data, size);
    free(data);
    return WASP_OK;
}

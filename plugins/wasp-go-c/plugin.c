// A plugin in the Go Wasp project's conventions (ABI wasp-go: go-abi/abi.go), in C: the
// functions of Go Wasp's example plugin. Strings are NUL-terminated UTF-8 in blocks from
// allocate; bytes a little-endian u32 length and the data; the host frees both with deallocate.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))
#define HOST(name) __attribute__((import_module("env"), import_name(name)))

HOST("raise_error") void raise_error(const char *message);
HOST("call_me") const char *call_me(const char *name);

EXPORT("allocate") void *allocate(int32_t size) { return malloc((size_t)size); }
EXPORT("deallocate") void deallocate(void *ptr, int32_t size) {
  (void)size;
  free(ptr);
}
EXPORT("get_string_size") int32_t get_string_size(const char *s) { return (int32_t)strlen(s); }

static char *copy(const char *s) {
  size_t n = strlen(s) + 1;
  char *out = malloc(n);
  memcpy(out, s, n);
  return out;
}

EXPORT("sum") int32_t sum(int32_t a, int32_t b) { return a + b; }

EXPORT("hello") char *hello(const char *name) {
  size_t n = strlen(name);
  char *out = malloc(6 + n + 1);
  memcpy(out, "Hello ", 6);
  memcpy(out + 6, name, n + 1);
  return out;
}

EXPORT("reverse") uint8_t *reverse(const uint8_t *in) {
  uint32_t n = (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 | (uint32_t)in[3] << 24;
  uint8_t *out = malloc(4 + (size_t)n);
  memcpy(out, in, 4);
  for (uint32_t i = 0; i < n; i++) out[4 + i] = in[4 + n - 1 - i];
  return out;
}

EXPORT("fail") void fail(void) { raise_error(copy("Ooops")); }

EXPORT("callback") const char *callback(void) { return call_me(copy("Nic")); }

// A plugin for Extism's ABI written against the kernel directly, without a PDK: what Wasp's
// extism ABI must run unmodified, and what Extism's JS SDK must agree with (test/engine/abi).
#include <stdint.h>
#include <stdlib.h>

#define KERNEL(name) __attribute__((import_module("extism:host/env"), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

KERNEL("input_length") uint64_t input_length(void);
KERNEL("input_load_u8") uint8_t input_load_u8(uint64_t offset);
KERNEL("input_load_u64") uint64_t input_load_u64(uint64_t offset);
KERNEL("alloc") uint64_t kernel_alloc(uint64_t length);
KERNEL("length") uint64_t kernel_length(uint64_t offset);
KERNEL("load_u8") uint8_t load_u8(uint64_t offset);
KERNEL("store_u8") void store_u8(uint64_t offset, uint8_t value);
KERNEL("store_u64") void store_u64(uint64_t offset, uint64_t value);
KERNEL("output_set") void output_set(uint64_t offset, uint64_t length);
KERNEL("error_set") void error_set(uint64_t offset);
KERNEL("config_get") uint64_t config_get(uint64_t key);
KERNEL("var_get") uint64_t var_get(uint64_t key);
KERNEL("var_set") void var_set(uint64_t key, uint64_t value);

// The call's input, copied into a fresh buffer (8 bytes at a time, then the tail).
static uint8_t *read_input(uint64_t *length) {
  uint64_t n = input_length();
  uint8_t *data = malloc(n + 1);
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word = input_load_u64(i);
    for (int b = 0; b < 8; b++) data[i + b] = (uint8_t)(word >> (8 * b));
  }
  for (; i < n; i++) data[i] = input_load_u8(i);
  *length = n;
  return data;
}

// bytes -> a new kernel block.
static uint64_t to_block(const uint8_t *data, uint64_t n) {
  uint64_t block = kernel_alloc(n);
  uint64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word = 0;
    for (int b = 0; b < 8; b++) word |= (uint64_t)data[i + b] << (8 * b);
    store_u64(block + i, word);
  }
  for (; i < n; i++) store_u8(block + i, data[i]);
  return block;
}

static uint64_t text_block(const char *text) {
  uint64_t n = 0;
  while (text[n] != 0) n++;
  return to_block((const uint8_t *)text, n);
}

static void set_output(const uint8_t *data, uint64_t n) { output_set(to_block(data, n), n); }

// Writes a decimal number at out; returns its length.
static int decimal(uint64_t value, char *out) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  for (int i = 0; i < n; i++) out[i] = digits[n - 1 - i];
  return n;
}

// Counts the input's vowels (the letters of config "vowels", else aeiouAEIOU) and keeps a running
// total in var "total"; outputs {"count":N,"total":T}.
EXPORT("count_vowels") int32_t count_vowels(void) {
  uint64_t n;
  uint8_t *input = read_input(&n);
  char vowels[64] = "aeiouAEIOU";
  uint64_t configured = config_get(text_block("vowels"));
  if (configured != 0) {
    uint64_t len = kernel_length(configured);
    if (len >= sizeof vowels) len = sizeof vowels - 1;
    for (uint64_t i = 0; i < len; i++) vowels[i] = (char)load_u8(configured + i);
    vowels[len] = 0;
  }
  uint64_t count = 0;
  for (uint64_t i = 0; i < n; i++)
    for (const char *v = vowels; *v; v++)
      if (input[i] == (uint8_t)*v) {
        count++;
        break;
      }
  free(input);
  uint64_t total = 0;
  uint64_t kept = var_get(text_block("total"));
  if (kept != 0 && kernel_length(kept) == 8)
    for (int b = 0; b < 8; b++) total |= (uint64_t)load_u8(kept + b) << (8 * b);
  total += count;
  uint8_t bytes[8];
  for (int b = 0; b < 8; b++) bytes[b] = (uint8_t)(total >> (8 * b));
  var_set(text_block("total"), to_block(bytes, 8));
  char json[64] = "{\"count\":";
  int at = 9;
  at += decimal(count, json + at);
  const char *mid = ",\"total\":";
  for (int i = 0; mid[i]; i++) json[at++] = mid[i];
  at += decimal(total, json + at);
  json[at++] = '}';
  set_output((const uint8_t *)json, (uint64_t)at);
  return 0;
}

// Outputs the input reversed; fails on an empty input.
EXPORT("reverse") int32_t reverse(void) {
  uint64_t n;
  uint8_t *input = read_input(&n);
  if (n == 0) {
    free(input);
    error_set(text_block("nothing to reverse"));
    return 1;
  }
  for (uint64_t i = 0; i < n / 2; i++) {
    uint8_t t = input[i];
    input[i] = input[n - 1 - i];
    input[n - 1 - i] = t;
  }
  set_output(input, n);
  free(input);
  return 0;
}

// Buffer's own utf8Write/utf8Slice skip the argument juggling of the public
// write()/toString(), which for short strings costs as much as the copy.
// They have been on Buffer.prototype since Node's early days; if a runtime
// lacks them, the public methods do the same work.

interface FastUtf8 {
  utf8Write?(text: string, offset: number, length: number): number;
  utf8Slice?(start: number, end: number): string;
}

const proto = Buffer.prototype as Buffer & FastUtf8;

/** Writes text as UTF-8 at offset (the caller sized the space with Buffer.byteLength). */
export const writeUtf8: (buf: Buffer, text: string, offset: number, length: number) => number =
  typeof proto.utf8Write === 'function'
    ? (buf, text, offset, length) => (buf as Buffer & FastUtf8).utf8Write!(text, offset, length)
    : (buf, text, offset, length) => buf.write(text, offset, length, 'utf8');

/** Decodes [start, end) as UTF-8; invalid sequences become U+FFFD. */
export const readUtf8: (buf: Buffer, start: number, end: number) => string =
  typeof proto.utf8Slice === 'function'
    ? (buf, start, end) => (buf as Buffer & FastUtf8).utf8Slice!(start, end)
    : (buf, start, end) => buf.toString('utf8', start, end);

const strict = new TextDecoder('utf-8', { fatal: true });

/** The bytes as text when they are valid UTF-8, else undefined (for showing data as text or in another form). */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Strings in binary protobuf are decoded as sent. protobuf-es decodes them with a plain TextDecoder,
 * which drops a leading U+FEFF: an event id "\ufeffx" recorded in binary became "x" while Connect JSON
 * kept it, so a retry over the other protocol was stored as a new event, and a distinct "x" was taken
 * for its duplicate. Imported for this effect by routes.ts and record-decoder.ts (which decodes alike).
 */
import { configureTextEncoding } from "@bufbuild/protobuf/wire";

const encoder = new TextEncoder();
const loose = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

configureTextEncoding({
  encodeUtf8: (text) => encoder.encode(text),
  decodeUtf8: (bytes, isStrict) => (isStrict ? strict : loose).decode(bytes),
  // As protobuf-es checks: a lone surrogate makes encodeURIComponent throw.
  checkUtf8: (text) => {
    try {
      encodeURIComponent(text);
      return true;
    } catch {
      return false;
    }
  },
});

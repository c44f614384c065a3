/* The public record shipped with this page. drawkit.verifier.copy_verifier rewrites this
 * file in a report folder; here it is empty, so the page asks for the record file. */
globalThis.DRAWKIT_EMBEDDED_RECORD = null;

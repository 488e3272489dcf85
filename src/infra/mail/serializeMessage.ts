import * as base64 from 'nodemailer/lib/base64';
import type MimeNode from 'nodemailer/lib/mime-node';
import * as qp from 'nodemailer/lib/qp';

/**
 * Parts larger than this go through `build()`: nodemailer's QP encoder works on 64 KiB slices, and
 * a part of at most one slice is encoded the way `quotedPrintable` below does it. Our emails are a
 * few KB.
 */
const MAX_PART_BYTES = 64 * 1024;

/** What `MimeNode.stream()` does with the nodes it is given, and nothing else. */
interface StreamedNode extends MimeNode {
  /** Set by `setRaw()`; such a node streams its raw value instead of headers and content. */
  _raw?: unknown;
  _transforms?: unknown[];
  _processFuncs?: unknown[];
}

/**
 * The bytes `node.build()` would give (CRLF line breaks, as a string to encode as UTF-8), for a
 * compiled MailComposer tree of string parts (text, html, multipart); `undefined` for anything else
 * (attachments, streams, files, URLs, raw parts, transforms, newline conversion, big parts), which
 * the caller builds with `build()` instead.
 *
 * `build()` streams every node through PassThrough, encoder and newline transforms joined by
 * `stream.pipeline`, with a `setImmediate` between steps; that machinery, not the MIME rules, is
 * most of its CPU. This walks the same tree in the same order as `MimeNode.stream()`: each node's
 * own `buildHeaders()`, its content encoded as `getTransferEncoding()` says with nodemailer's own
 * `qp`/`base64` functions, the multipart delimiters, and the final line break that nodemailer's
 * LastNewline adds. test/realtime/serializeMessage.unit.test.ts holds it byte for byte against
 * `build()` over a generated matrix of subjects, names and bodies.
 */
export function serializeMessage(root: MimeNode): string | undefined {
  const top = root as StreamedNode;
  if (top.newline || top._transforms?.length || top._processFuncs?.length) return undefined;
  const out: string[] = [];
  if (!serializeNode(top, out)) return undefined;
  const message = out.join('');
  // LastNewline: a message always ends with a line break.
  if (message.endsWith('\n')) return message;
  return message.endsWith('\r') ? `${message}\n` : `${message}\r\n`;
}

function serializeNode(node: StreamedNode, out: string[]): boolean {
  if (node._raw) return false;
  const content = node.content;
  if (content !== undefined && typeof content !== 'string') return false;
  out.push(`${node.buildHeaders()}\r\n\r\n`);
  // Known once the headers are built: attachments and non-text parts are left to build().
  if (node.filename || !(node.multipart || /^text\//i.test(node.contentType ?? ''))) return false;
  if (content) {
    // buildHeaders() has just set it from getTransferEncoding(), which stream() asks before it;
    // reading the header saves computing it a second time.
    const transferEncoding = node.getHeader('Content-Transfer-Encoding');
    if (Buffer.byteLength(content, 'utf8') > MAX_PART_BYTES) return false;
    if (transferEncoding === 'quoted-printable') {
      out.push(quotedPrintable(content));
    } else if (transferEncoding === 'base64') {
      out.push(base64.wrap(base64.encode(content), 76));
    } else {
      out.push(content);
    }
  }
  if (node.multipart) {
    if (!node.boundary) return false;
    for (let index = 0; index < node.childNodes.length; index++) {
      out.push(`${index > 0 ? '\r\n' : ''}--${node.boundary}\r\n`);
      if (!serializeNode(node.childNodes[index] as StreamedNode, out)) return false;
    }
    out.push(`\r\n--${node.boundary}--\r\n`);
  }
  return true;
}

/**
 * qp.Encoder fed one chunk: the spaces and tabs the input ends with are held back until the end
 * (they are encoded then, as whitespace before the end of the input), the rest is encoded and
 * wrapped at 76, and the unfinished last line is wrapped again together with the held-back tail.
 */
function quotedPrintable(content: string): string {
  const bytes = Buffer.from(content, 'utf8');
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09)) end--;
  const body = qp.wrap(qp.encode(bytes.subarray(0, end)), 76);
  if (end === bytes.length) return body;
  const lastLineStart = body.lastIndexOf('\n') + 1;
  return body.slice(0, lastLineStart) + qp.wrap(body.slice(lastLineStart) + qp.encode(bytes.subarray(end)), 76);
}

/*
 * Event metadata on KurrentDB's two append paths. The classic append stores our metadata as JSON
 * bytes. The atomic multi-stream append (Streams v2 AppendSession) stores "properties" instead, a
 * map the Node client restricts to string values, and readers of the classic read API get those
 * properties back as JSON with the server's `$schema.name` and `$schema.format` keys added. Our
 * metadata is any JSON object (numbers, nested actors), so a multi-stream append carries it whole
 * as one string property, and reading unwraps it: an event reads back as written, whichever path
 * wrote it.
 */

/** The one property a multi-stream append writes: the metadata object as JSON text. */
export const METADATA_PROPERTY = 'metadata-json';

const SCHEMA_NAME_KEY = '$schema.name';
const SCHEMA_FORMAT_KEY = '$schema.format';

export function metadataProperties(metadata: Record<string, unknown> | undefined): Record<string, string> {
  return { [METADATA_PROPERTY]: JSON.stringify(metadata ?? {}) };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The metadata as the writer gave it, or undefined when a multi-stream append wrote something that
 * is not ours (another client's property values): the caller reports such an event.
 */
export function metadataAsWritten(stored: Record<string, unknown>): Record<string, unknown> | undefined {
  // Only the server adds these, and only to records written with properties.
  if (!(SCHEMA_NAME_KEY in stored)) return stored;
  const { [SCHEMA_NAME_KEY]: _name, [SCHEMA_FORMAT_KEY]: _format, ...properties } = stored;
  const wrapped = properties[METADATA_PROPERTY];
  if (Object.keys(properties).length !== 1 || typeof wrapped !== 'string') return properties;
  try {
    const parsed: unknown = JSON.parse(wrapped);
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

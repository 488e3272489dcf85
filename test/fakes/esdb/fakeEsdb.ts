import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { BinaryWriter } from 'google-protobuf';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty as ProtoEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { Struct, Value } from 'google-protobuf/google/protobuf/struct_pb';
import { Code } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/code_pb';
import { ServerFeaturesService, type IServerFeaturesServer } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/serverfeatures_pb';
import {
  AllStreamPosition,
  Empty,
  StreamIdentifier,
  UUID,
  WrongExpectedVersion as SharedWrongExpectedVersion,
} from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/shared_pb';
import { Status } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/status_pb';
import { StreamsService, type IStreamsServer } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_grpc_pb';
import { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp, ReadReq, ReadResp } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v1/streams_pb';
import {
  AppendTransactionSizeExceededErrorDetails,
  StreamAlreadyInAppendSessionErrorDetails,
  StreamRevisionConflictErrorDetails,
} from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v2/streams/errors_pb';
import { StreamsServiceService, type IStreamsServiceServer } from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v2/streams/streams_grpc_pb';
import {
  AppendRequest,
  AppendResponse,
  AppendSessionResponse,
  SchemaFormat,
  type AppendRecord,
} from '@kurrent/kurrentdb-client/generated/kurrentdb/protocols/v2/streams/streams_pb';
import { MemoryLog, type AppendOutcome, type ExpectedState, type ProposedEvent, type StoredEvent } from './memoryLog';

/**
 * A test server speaking EventStoreDB's gRPC protocol over loopback, backed by memory. It implements
 * what EsdbEventStore makes the official client send, and answers anything else with UNIMPLEMENTED
 * so that a new dependency on an unimplemented feature fails loudly instead of passing by accident:
 *
 * - ServerFeatures.GetSupportedMethods (the client asks on first use to pick Append or BatchAppend,
 *   and before a multi-stream append), answered like the server: lower-case names, features
 * - Streams.Append and Streams.BatchAppend with ESDB's expected-revision and idempotency rules
 * - Streams v2 AppendSession (KurrentDB 25.1+, the client's multiStreamAppend): the server's request
 *   validation, one stream once per session, size limits, the all-or-nothing commit check and its
 *   errors as rich gRPC statuses (google.rpc.Status in grpc-status-details-bin)
 * - Streams.Read: a stream forwards/backwards, $all forwards from start or a position, $all
 *   backwards from the end, and a subscription to $all (confirmation, catch-up, caught-up, live)
 *
 * Not implemented: filters, link resolution, stream subscriptions, persistent subscriptions, deletes,
 * stream metadata/ACLs, authentication, TLS, cluster gossip, server-side deadlines.
 */

export interface FakeEsdbOptions {
  /**
   * Advertise BatchAppend the way current servers do (the default), or behave like an old server
   * without the ServerFeatures service, which makes the client fall back to Append (and have no
   * multi-stream append).
   */
  batchAppend?: boolean;
  /**
   * The version ServerFeatures reports; from 25.1 on the server also offers Streams v2
   * AppendSession. Default 25.1.0.
   */
  version?: string;
}

export interface FakeEsdb {
  connectionString: string;
  log: MemoryLog;
  /** Calls per RPC (for BatchAppend: appends, as one call carries many), to see which path the client took. */
  calls: Record<'getSupportedMethods' | 'read' | 'append' | 'batchAppend' | 'appendSession', number>;
  /** While set, appends and reads are accepted but never answered (to exercise client deadlines). */
  setUnresponsive(unresponsive: boolean): void;
  close(): Promise<void>;
}

const DEFAULT_VERSION = '25.1.0';
const STREAMS_SERVICE = 'event_store.client.streams.Streams';
const STREAMS_V2_SERVICE = 'kurrentdb.protocol.v2.streams.StreamsService';
/** The server's defaults (ClusterVNodeOptions.Application): MaxAppendSize 1 MiB, MaxAppendEventSize. */
const MAX_APPEND_SIZE = 1_048_576;
const MAX_APPEND_EVENT_SIZE = 16 * 1_048_576;

class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    /** A serialized google.rpc.Status, sent as the server does in grpc-status-details-bin. */
    readonly statusDetails?: Uint8Array,
  ) {
    super(message);
  }
}

const unimplemented = (what: string): RpcError => new RpcError(grpc.status.UNIMPLEMENTED, `fake EventStoreDB does not implement ${what}`);

function toServiceError(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof RpcError) {
    const metadata = new grpc.Metadata();
    if (error.statusDetails) metadata.set('grpc-status-details-bin', Buffer.from(error.statusDetails));
    return { code: error.code, details: error.message, metadata };
  }
  return { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

function isAtLeast(version: string, minimum: string): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c = 0, d = 0] = minimum.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

/**
 * A v2 API error as the server builds it (RpcExceptions.FromError): google.rpc.Status with an
 * ErrorInfo (reason = the StreamsError name without its prefix, domain "streams") and the error's
 * details message, all packed as Any.
 */
function streamsError(code: grpc.status, reason: string, message: string, details?: { typeName: string; bytes: Uint8Array }): RpcError {
  const packed: Any[] = [];
  const errorInfo = new BinaryWriter();
  errorInfo.writeString(1, reason);
  errorInfo.writeString(2, 'streams');
  const info = new Any();
  info.pack(errorInfo.getResultBuffer(), 'google.rpc.ErrorInfo');
  packed.push(info);
  if (details) {
    const any = new Any();
    any.pack(details.bytes, details.typeName);
    packed.push(any);
  }
  const status = new BinaryWriter();
  status.writeInt32(1, code);
  status.writeString(2, message);
  status.writeRepeatedMessage(3, packed, (message: unknown, writer: BinaryWriter) => Any.serializeBinaryToWriter(message as Any, writer));
  return new RpcError(code, message, status.getResultBuffer());
}

const invalidRequest = (message: string): RpcError => new RpcError(grpc.status.INVALID_ARGUMENT, message);

const SCHEMA_NAME = /^[\p{L}\p{N}_.$:-]+$/u;
const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SCHEMA_FORMAT_NAMES: Partial<Record<SchemaFormat, string>> = {
  [SchemaFormat.SCHEMA_FORMAT_JSON]: 'Json',
  [SchemaFormat.SCHEMA_FORMAT_PROTOBUF]: 'Protobuf',
  [SchemaFormat.SCHEMA_FORMAT_AVRO]: 'Avro',
  [SchemaFormat.SCHEMA_FORMAT_BYTES]: 'Bytes',
};

/** The v2 expected revision, -2 (any) when absent; as the server's AppendRequestValidator allows. */
function sessionExpected(request: AppendRequest): { raw: bigint; state: ExpectedState } {
  const raw = request.hasExpectedRevision() ? BigInt(request.getExpectedRevision()!) : -2n;
  if (raw >= 0n) return { raw, state: { kind: 'revision', revision: raw } };
  if (raw === -1n) return { raw, state: { kind: 'no_stream' } };
  if (raw === -2n) return { raw, state: { kind: 'any' } };
  if (raw === -4n) return { raw, state: { kind: 'stream_exists' } };
  throw invalidRequest('Expected revision must be positive or one of the allowed constants: NoStream (-1), Any (-2) or Exists (-4).');
}

/**
 * One AppendRecord as the server's PreProcessRecord and MapToEvent see it: validated, its properties
 * stored as the record's metadata, which classic readers get as JSON with $schema.name and
 * $schema.format added (EventRecord.SynthesizeMetadataFromProperties). Returns the stored event and
 * its size as CalculateSizeOnDisk counts it.
 */
function sessionRecord(stream: string, record: AppendRecord): { event: ProposedEvent; size: number } {
  const id = record.hasRecordId() ? record.getRecordId()! : randomUUID();
  if (!UUID_TEXT.test(id) || /^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(id)) throw invalidRequest('Record ID must be a valid and non-empty UUID.');
  const schema = record.getSchema();
  const format = schema?.getFormat() ?? SchemaFormat.SCHEMA_FORMAT_UNSPECIFIED;
  const formatName = SCHEMA_FORMAT_NAMES[format];
  if (!formatName) throw invalidRequest('Schema format must be one of Json, Protobuf or Bytes.');
  const name = schema?.getName() ?? '';
  if (!name || name.normalize('NFC') !== name || !SCHEMA_NAME.test(name)) {
    throw invalidRequest(`Schema name can only contain unicode letters, digits, underscores, dashes, periods, colons, and dollar signs. Attempted Value: ${name}`);
  }
  const properties = new Struct();
  for (const [key, value] of record.getPropertiesMap().entries()) {
    if (!key) throw invalidRequest('Property keys must not be empty.');
    if (value.getKindCase() === Value.KindCase.KIND_NOT_SET) throw invalidRequest('Property values must have a type set.');
    properties.getFieldsMap().set(key, value);
  }
  const data = record.getData_asU8();
  const size = data.length + properties.serializeBinary().length + Buffer.byteLength(name, 'utf8');
  if (size > MAX_APPEND_EVENT_SIZE)
    throw invalidRequest(`The size of record ${id} in ${stream} (${size} bytes) exceeds the maximum allowed size of ${MAX_APPEND_EVENT_SIZE} bytes`);
  const synthesized = { ...(properties.toJavaScript() as Record<string, unknown>), '$schema.name': name, '$schema.format': formatName };
  return {
    event: {
      id,
      type: name,
      contentType: format === SchemaFormat.SCHEMA_FORMAT_JSON ? 'application/json' : 'application/octet-stream',
      data,
      customMetadata: Buffer.from(JSON.stringify(synthesized), 'utf8'),
    },
    size,
  };
}

function streamName(identifier: StreamIdentifier | undefined): string {
  if (!identifier) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'stream identifier missing');
  return Buffer.from(identifier.getStreamName_asU8()).toString('utf8');
}

function identifierOf(name: string): StreamIdentifier {
  return new StreamIdentifier().setStreamName(Buffer.from(name, 'utf8'));
}

function uuidString(uuid: UUID | undefined): string {
  if (!uuid) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'event id missing');
  if (uuid.hasStructured()) {
    const structured = uuid.getStructured()!;
    const hex =
      BigInt.asUintN(64, BigInt(structured.getMostSignificantBits())).toString(16).padStart(16, '0') +
      BigInt.asUintN(64, BigInt(structured.getLeastSignificantBits())).toString(16).padStart(16, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return uuid.getString();
}

function proposedEvent(message: AppendReq.ProposedMessage | BatchAppendReq.ProposedMessage): ProposedEvent {
  const metadata = message.getMetadataMap();
  const type = metadata.get('type');
  const contentType = metadata.get('content-type');
  if (!type || !contentType) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'proposed message needs "type" and "content-type" metadata');
  return { id: uuidString(message.getId()), type, contentType, data: message.getData_asU8(), customMetadata: message.getCustomMetadata_asU8() };
}

function appendExpected(options: AppendReq.Options): ExpectedState {
  switch (options.getExpectedStreamRevisionCase()) {
    case AppendReq.Options.ExpectedStreamRevisionCase.REVISION:
      return { kind: 'revision', revision: BigInt(options.getRevision()) };
    case AppendReq.Options.ExpectedStreamRevisionCase.NO_STREAM:
      return { kind: 'no_stream' };
    case AppendReq.Options.ExpectedStreamRevisionCase.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    default:
      return { kind: 'any' };
  }
}

function batchExpected(options: BatchAppendReq.Options): ExpectedState {
  switch (options.getExpectedStreamPositionCase()) {
    case BatchAppendReq.Options.ExpectedStreamPositionCase.STREAM_POSITION:
      return { kind: 'revision', revision: BigInt(options.getStreamPosition()) };
    case BatchAppendReq.Options.ExpectedStreamPositionCase.NO_STREAM:
      return { kind: 'no_stream' };
    case BatchAppendReq.Options.ExpectedStreamPositionCase.STREAM_EXISTS:
      return { kind: 'stream_exists' };
    default:
      return { kind: 'any' };
  }
}

function recordedEvent(event: StoredEvent): ReadResp.ReadEvent.RecordedEvent {
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
    .setId(new UUID().setString(event.id))
    .setStreamIdentifier(identifierOf(event.streamId))
    .setStreamRevision(event.revision.toString())
    .setCommitPosition(event.position.toString())
    .setPreparePosition(event.position.toString())
    .setData(event.data)
    .setCustomMetadata(event.customMetadata);
  recorded.getMetadataMap().set('type', event.type).set('content-type', event.contentType).set('created', event.createdTicks.toString());
  return recorded;
}

function eventMessage(event: StoredEvent, withCommitPosition: boolean): ReadResp {
  const readEvent = new ReadResp.ReadEvent().setEvent(recordedEvent(event));
  if (withCommitPosition) readEvent.setCommitPosition(event.position.toString());
  else readEvent.setNoPosition(new Empty());
  return new ReadResp().setEvent(readEvent);
}

/** Writes with HTTP/2 flow control: waits while the client is not reading, unless it went away. */
async function send(call: grpc.ServerWritableStream<ReadReq, ReadResp>, message: ReadResp): Promise<void> {
  if (call.cancelled || call.write(message)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      for (const event of ['drain', 'cancelled', 'close']) call.off(event, done);
      resolve();
    };
    for (const event of ['drain', 'cancelled', 'close']) call.on(event, done);
  });
}

/** grpc-js turns an 'error' carrying a status object into the call's final status. */
function fail(call: grpc.ServerWritableStream<ReadReq, ReadResp> | grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>, error: unknown): void {
  if (!call.cancelled) call.emit('error', toServiceError(error));
}

class FakeEsdbServer {
  readonly log = new MemoryLog();
  unresponsive = false;
  readonly calls = { getSupportedMethods: 0, read: 0, append: 0, batchAppend: 0, appendSession: 0 };
  private readonly stalled = new Set<() => void>();

  constructor(readonly options: Required<FakeEsdbOptions>) {}

  get offersAppendSession(): boolean {
    return this.options.batchAppend && isAtLeast(this.options.version, '25.1');
  }

  /** Like the server's ServerFeatures: every method it serves, in lower case, with its features. */
  readonly features: IServerFeaturesServer = {
    getSupportedMethods: (_call, callback) => {
      this.calls.getSupportedMethods++;
      const methods = new SupportedMethods().setEventStoreServerVersion(this.options.version);
      const add = (service: string, method: string, features: string[] = []): void => {
        methods.addMethods(new SupportedMethod().setServiceName(service.toLowerCase()).setMethodName(method.toLowerCase()).setFeaturesList(features));
      };
      add(STREAMS_SERVICE, 'Read', ['position', 'events']);
      add(STREAMS_SERVICE, 'Append');
      add(STREAMS_SERVICE, 'BatchAppend', ['deadline_duration']);
      if (this.offersAppendSession) add(STREAMS_V2_SERVICE, 'AppendSession');
      callback(null, methods);
    },
  };

  readonly streamsV2: Pick<IStreamsServiceServer, 'appendSession'> = {
    appendSession: (call, callback) => {
      this.calls.appendSession++;
      // The server reads and validates every request as it arrives (AppendSessionCommand.WithRequest).
      const parts: Array<{ streamId: string; raw: bigint; expected: ExpectedState; events: ProposedEvent[] }> = [];
      const seen = new Set<string>();
      let totalSize = 0;
      let failed = false;
      call.on('data', (request: AppendRequest) => {
        if (failed) return;
        try {
          const stream = request.getStream();
          if (!stream) throw invalidRequest('Stream must not be empty.');
          if (stream === '$$') throw invalidRequest("Stream must not be '$$'.");
          const { raw, state } = sessionExpected(request);
          if (request.getRecordsList().length === 0) throw invalidRequest('Stream append request must contain at least one record');
          // Stream names are compared ignoring case here, unlike anywhere else in the server.
          if (seen.has(stream.toLowerCase())) {
            throw streamsError(grpc.status.ABORTED, 'STREAM_ALREADY_IN_APPEND_SESSION', `Stream '${stream}' already has a different group of messages in this session.`, {
              typeName: 'kurrentdb.protocol.v2.streams.errors.StreamAlreadyInAppendSessionErrorDetails',
              bytes: new StreamAlreadyInAppendSessionErrorDetails().setStream(stream).serializeBinary(),
            });
          }
          seen.add(stream.toLowerCase());
          const events: ProposedEvent[] = [];
          for (const record of request.getRecordsList()) {
            const { event, size } = sessionRecord(stream, record);
            totalSize += size;
            if (totalSize > MAX_APPEND_SIZE) {
              throw streamsError(
                grpc.status.ABORTED,
                'APPEND_TRANSACTION_SIZE_EXCEEDED',
                `Transaction size (${totalSize} bytes) exceeded the maximum allowed size of ${MAX_APPEND_SIZE} bytes.`,
                {
                  typeName: 'kurrentdb.protocol.v2.streams.errors.AppendTransactionSizeExceededErrorDetails',
                  bytes: new AppendTransactionSizeExceededErrorDetails().setSize(totalSize).setMaxSize(MAX_APPEND_SIZE).serializeBinary(),
                },
              );
            }
            events.push(event);
          }
          parts.push({ streamId: stream, raw, expected: state, events });
        } catch (error) {
          failed = true;
          callback(toServiceError(error));
        }
      });
      call.on('end', () => {
        if (failed || this.stall(() => callback({ code: grpc.status.UNAVAILABLE, details: 'server closed' }))) return;
        try {
          if (parts.length === 0) {
            throw streamsError(
              grpc.status.FAILED_PRECONDITION,
              'APPEND_SESSION_NO_REQUESTS',
              'Append session started, but no append requests were sent before ending the session.',
            );
          }
          const outcome = this.log.appendMany(parts);
          if (outcome.kind === 'wrong_expected_version') {
            const part = parts[outcome.index]!;
            const actual = outcome.current === 'no_stream' ? -1n : outcome.current;
            throw streamsError(
              grpc.status.FAILED_PRECONDITION,
              'STREAM_REVISION_CONFLICT',
              `Append failed due to a revision conflict on stream '${part.streamId}'. Expected revision: ${part.raw}. Actual revision: ${actual}.`,
              {
                typeName: 'kurrentdb.protocol.v2.streams.errors.StreamRevisionConflictErrorDetails',
                bytes: new StreamRevisionConflictErrorDetails()
                  .setStream(part.streamId)
                  .setExpectedRevision(part.raw.toString())
                  .setActualRevision(actual.toString())
                  .serializeBinary(),
              },
            );
          }
          const response = new AppendSessionResponse().setPosition(outcome.commitPosition.toString());
          parts.forEach((part, index) => {
            response.addOutput(new AppendResponse().setStream(part.streamId).setStreamRevision(outcome.lastRevisions[index]!.toString()));
          });
          callback(null, response);
        } catch (error) {
          callback(toServiceError(error));
        }
      });
      call.on('error', () => undefined);
    },
  };

  readonly streams: Pick<IStreamsServer, 'read' | 'append' | 'batchAppend'> = {
    read: (call) => {
      this.calls.read++;
      if (this.stall(() => call.end())) return;
      this.read(call).then(
        () => call.end(),
        (error: unknown) => fail(call, error),
      );
    },

    append: (call, callback) => {
      this.calls.append++;
      let options: AppendReq.Options | undefined;
      const events: ProposedEvent[] = [];
      let failed = false;
      call.on('data', (request: AppendReq) => {
        try {
          if (request.hasOptions()) options = request.getOptions();
          else if (request.hasProposedMessage()) events.push(proposedEvent(request.getProposedMessage()!));
        } catch (error) {
          failed = true;
          callback(toServiceError(error));
        }
      });
      call.on('end', () => {
        if (failed || this.stall(() => callback({ code: grpc.status.UNAVAILABLE, details: 'server closed' }))) return;
        try {
          if (!options) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'append without options');
          const stream = streamName(options.getStreamIdentifier());
          callback(null, this.appendResponse(this.appendEvents(stream, appendExpected(options), events), options));
        } catch (error) {
          callback(toServiceError(error));
        }
      });
      call.on('error', () => undefined);
    },

    batchAppend: (call) => {
      const pending = new Map<string, { options: BatchAppendReq.Options; events: ProposedEvent[] }>();
      call.on('data', (request: BatchAppendReq) => {
        try {
          const correlationId = request.getCorrelationId();
          const key = uuidString(correlationId);
          let entry = pending.get(key);
          if (!entry) {
            const options = request.getOptions();
            if (!options) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'first batch of a correlation id needs options');
            entry = { options, events: [] };
            pending.set(key, entry);
          }
          entry.events.push(...request.getProposedMessagesList().map(proposedEvent));
          if (!request.getIsFinal()) return;
          pending.delete(key);
          this.calls.batchAppend++;
          if (this.stall(() => undefined)) return;
          const stream = streamName(entry.options.getStreamIdentifier());
          const outcome = this.appendEvents(stream, batchExpected(entry.options), entry.events);
          call.write(this.batchAppendResponse(outcome, entry.options, stream).setCorrelationId(correlationId));
        } catch (error) {
          fail(call, error);
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  };

  /** Parks a handler while unresponsive; `release` runs when the server closes. */
  private stall(release: () => void): boolean {
    if (!this.unresponsive) return false;
    this.stalled.add(release);
    return true;
  }

  releaseStalled(): void {
    for (const release of this.stalled) release();
    this.stalled.clear();
  }

  private appendEvents(stream: string, expected: ExpectedState, events: ProposedEvent[]): AppendOutcome {
    if (events.length === 0) throw unimplemented('appends without events');
    return this.log.append(stream, expected, events);
  }

  private appendResponse(outcome: AppendOutcome, options: AppendReq.Options): AppendResp {
    if (outcome.kind === 'written') {
      const position = new AppendResp.Position().setCommitPosition(outcome.commitPosition.toString()).setPreparePosition(outcome.preparePosition.toString());
      return new AppendResp().setSuccess(new AppendResp.Success().setCurrentRevision(outcome.lastRevision.toString()).setPosition(position));
    }
    const wrong = new AppendResp.WrongExpectedVersion();
    if (outcome.current === 'no_stream') wrong.setCurrentNoStream(new Empty());
    else wrong.setCurrentRevision(outcome.current.toString());
    switch (options.getExpectedStreamRevisionCase()) {
      case AppendReq.Options.ExpectedStreamRevisionCase.REVISION:
        wrong.setExpectedRevision(options.getRevision());
        break;
      case AppendReq.Options.ExpectedStreamRevisionCase.NO_STREAM:
        wrong.setExpectedNoStream(new Empty());
        break;
      case AppendReq.Options.ExpectedStreamRevisionCase.STREAM_EXISTS:
        wrong.setExpectedStreamExists(new Empty());
        break;
      default:
        wrong.setExpectedAny(new Empty());
    }
    return new AppendResp().setWrongExpectedVersion(wrong);
  }

  private batchAppendResponse(outcome: AppendOutcome, options: BatchAppendReq.Options, stream: string): BatchAppendResp {
    const response = new BatchAppendResp().setStreamIdentifier(identifierOf(stream));
    const wrong = new SharedWrongExpectedVersion();
    switch (options.getExpectedStreamPositionCase()) {
      case BatchAppendReq.Options.ExpectedStreamPositionCase.STREAM_POSITION:
        response.setStreamPosition(options.getStreamPosition());
        wrong.setExpectedStreamPosition(options.getStreamPosition());
        break;
      case BatchAppendReq.Options.ExpectedStreamPositionCase.NO_STREAM:
        response.setNoStream(new ProtoEmpty());
        wrong.setExpectedNoStream(new ProtoEmpty());
        break;
      case BatchAppendReq.Options.ExpectedStreamPositionCase.STREAM_EXISTS:
        response.setStreamExists(new ProtoEmpty());
        wrong.setExpectedStreamExists(new ProtoEmpty());
        break;
      default:
        response.setAny(new ProtoEmpty());
        wrong.setExpectedAny(new ProtoEmpty());
    }
    if (outcome.kind === 'written') {
      const position = new AllStreamPosition().setCommitPosition(outcome.commitPosition.toString()).setPreparePosition(outcome.preparePosition.toString());
      return response.setSuccess(new BatchAppendResp.Success().setCurrentRevision(outcome.lastRevision.toString()).setPosition(position));
    }
    if (outcome.current === 'no_stream') wrong.setCurrentNoStream(new ProtoEmpty());
    else wrong.setCurrentStreamRevision(outcome.current.toString());
    const details = new Any();
    details.pack(wrong.serializeBinary(), 'event_store.client.WrongExpectedVersion');
    return response.setError(new Status().setCode(Code.FAILED_PRECONDITION).setMessage('wrong expected version').setDetails(details));
  }

  private async read(call: grpc.ServerWritableStream<ReadReq, ReadResp>): Promise<void> {
    const options = call.request.getOptions();
    if (!options) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'read without options');
    if (options.getFilterOptionCase() === ReadReq.Options.FilterOptionCase.FILTER) throw unimplemented('read filters');
    if (options.getResolveLinks()) throw unimplemented('link resolution');
    if (options.getUuidOption()?.hasStructured()) throw unimplemented('structured uuids');
    const subscribe = options.getCountOptionCase() === ReadReq.Options.CountOptionCase.SUBSCRIPTION;
    const count = subscribe ? Infinity : Number(options.getCount());
    const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;

    if (options.hasStream()) {
      if (subscribe) throw unimplemented('stream subscriptions');
      await this.readStream(call, options.getStream()!, backwards, count);
      return;
    }
    const all = options.getAll();
    if (!all) throw new RpcError(grpc.status.INVALID_ARGUMENT, 'read needs a stream or $all');
    if (subscribe) await this.subscribeToAll(call, all);
    else if (backwards) await this.readAllBackwards(call, all, count);
    else await this.readAllForwards(call, all, count);
  }

  private async readStream(call: grpc.ServerWritableStream<ReadReq, ReadResp>, options: ReadReq.Options.StreamOptions, backwards: boolean, count: number): Promise<void> {
    const name = streamName(options.getStreamIdentifier());
    const stream = this.log.stream(name);
    if (!stream) {
      await send(call, new ReadResp().setStreamNotFound(new ReadResp.StreamNotFound().setStreamIdentifier(identifierOf(name))));
      return;
    }
    const last = stream.length - 1;
    let from: number;
    if (options.hasStart()) from = backwards ? -1 : 0;
    else if (options.hasEnd()) from = backwards ? last : stream.length;
    else from = Number(BigInt(options.getRevision()));
    const selected = backwards ? stream.slice(0, Math.min(from, last) + 1).reverse() : stream.slice(from);
    for (const event of selected.slice(0, count)) {
      if (call.cancelled) return;
      await send(call, eventMessage(event, false));
    }
  }

  private startIndex(options: ReadReq.Options.AllOptions): number {
    if (options.hasStart()) return 0;
    if (options.hasEnd()) return this.log.events.length;
    const position = options.getPosition()!;
    const commit = BigInt(position.getCommitPosition());
    if (commit !== BigInt(position.getPreparePosition()) || !this.log.isRecordBoundary(commit)) {
      throw new RpcError(grpc.status.INVALID_ARGUMENT, `invalid $all position ${commit}/${position.getPreparePosition()}`);
    }
    return this.log.indexAtOrAfter(commit);
  }

  /** Reading $all from a position includes the event at that position, as ESDB does. */
  private async readAllForwards(call: grpc.ServerWritableStream<ReadReq, ReadResp>, options: ReadReq.Options.AllOptions, count: number): Promise<void> {
    const start = this.startIndex(options);
    for (const event of this.log.events.slice(start, start + count)) {
      if (call.cancelled) return;
      await send(call, eventMessage(event, true));
    }
  }

  private async readAllBackwards(call: grpc.ServerWritableStream<ReadReq, ReadResp>, options: ReadReq.Options.AllOptions, count: number): Promise<void> {
    if (!options.hasEnd()) throw unimplemented('reading $all backwards from anywhere but the end');
    const events = this.log.events;
    for (let i = events.length - 1; i >= 0 && i >= events.length - count; i--) {
      if (call.cancelled) return;
      await send(call, eventMessage(events[i]!, true));
    }
  }

  /** Like the server: confirm, catch up strictly after the checkpoint, say caught-up, then go live. */
  private async subscribeToAll(call: grpc.ServerWritableStream<ReadReq, ReadResp>, options: ReadReq.Options.AllOptions): Promise<void> {
    let cursor = this.startIndex(options);
    if (options.hasPosition() && this.log.events[cursor]?.position === BigInt(options.getPosition()!.getCommitPosition())) cursor++;
    let wake: (() => void) | undefined;
    const unregister = this.log.onWrite(() => wake?.());
    const onCancel = (): void => wake?.();
    call.on('cancelled', onCancel);
    try {
      await send(call, new ReadResp().setConfirmation(new ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID())));
      let caughtUp = false;
      while (!call.cancelled) {
        const events = this.log.events;
        while (cursor < events.length && !call.cancelled) await send(call, eventMessage(events[cursor++]!, true));
        if (call.cancelled) break;
        if (!caughtUp) {
          caughtUp = true;
          await send(call, new ReadResp().setCaughtUp(new ReadResp.CaughtUp()));
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      unregister();
      call.off('cancelled', onCancel);
    }
  }
}

/** Starts the fake on an ephemeral loopback port; `connectionString` is what EVENTSTORE_CONNECTION_STRING would hold. */
export async function startFakeEsdb(options: FakeEsdbOptions = {}): Promise<FakeEsdb> {
  const fake = new FakeEsdbServer({ batchAppend: options.batchAppend ?? true, version: options.version ?? DEFAULT_VERSION });
  const server = new grpc.Server();
  server.addService(StreamsService, fake.streams);
  if (fake.options.batchAppend) server.addService(ServerFeaturesService, fake.features);
  if (fake.offersAppendSession) server.addService(StreamsServiceService, fake.streamsV2);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
  });
  return {
    connectionString: `kurrentdb://127.0.0.1:${port}?tls=false`,
    log: fake.log,
    calls: fake.calls,
    setUnresponsive(unresponsive) {
      fake.unresponsive = unresponsive;
    },
    async close() {
      fake.unresponsive = false;
      fake.releaseStalled();
      server.forceShutdown();
    },
  };
}

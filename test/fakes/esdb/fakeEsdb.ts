import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { Any } from 'google-protobuf/google/protobuf/any_pb';
import { Empty as ProtoEmpty } from 'google-protobuf/google/protobuf/empty_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import { ServerFeaturesService, type IServerFeaturesServer } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import {
  AllStreamPosition,
  Empty,
  StreamIdentifier,
  UUID,
  WrongExpectedVersion as SharedWrongExpectedVersion,
} from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { StreamsService, type IStreamsServer } from '@eventstore/db-client/generated/streams_grpc_pb';
import { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp, ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { MemoryLog, type AppendOutcome, type ExpectedState, type ProposedEvent, type StoredEvent } from './memoryLog';

/**
 * A test server speaking EventStoreDB's gRPC protocol over loopback, backed by memory. It implements
 * what EsdbEventStore makes the official client send, and answers anything else with UNIMPLEMENTED
 * so that a new dependency on an unimplemented feature fails loudly instead of passing by accident:
 *
 * - ServerFeatures.GetSupportedMethods (the client asks on first use to pick Append or BatchAppend)
 * - Streams.Append and Streams.BatchAppend with ESDB's expected-revision and idempotency rules
 * - Streams.Read: a stream forwards/backwards, $all forwards from start or a position, $all
 *   backwards from the end, and a subscription to $all (confirmation, catch-up, caught-up, live)
 *
 * Not implemented: filters, link resolution, stream subscriptions, persistent subscriptions, deletes,
 * stream metadata/ACLs, authentication, TLS, cluster gossip, server-side deadlines.
 */

export interface FakeEsdbOptions {
  /**
   * Advertise BatchAppend the way current servers do (the default), or behave like an old server
   * without the ServerFeatures service, which makes the client fall back to Append.
   */
  batchAppend?: boolean;
}

export interface FakeEsdb {
  connectionString: string;
  log: MemoryLog;
  /** Calls per RPC (for BatchAppend: appends, as one call carries many), to see which path the client took. */
  calls: Record<'getSupportedMethods' | 'read' | 'append' | 'batchAppend', number>;
  /** While set, appends and reads are accepted but never answered (to exercise client deadlines). */
  setUnresponsive(unresponsive: boolean): void;
  close(): Promise<void>;
}

const SERVER_VERSION = '24.10.0';
const STREAMS_SERVICE = 'event_store.client.streams.Streams';

class RpcError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
  }
}

const unimplemented = (what: string): RpcError => new RpcError(grpc.status.UNIMPLEMENTED, `fake EventStoreDB does not implement ${what}`);

function toServiceError(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof RpcError) return { code: error.code, details: error.message };
  return { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
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
  readonly calls = { getSupportedMethods: 0, read: 0, append: 0, batchAppend: 0 };
  private readonly stalled = new Set<() => void>();

  constructor(readonly options: Required<FakeEsdbOptions>) {}

  readonly features: IServerFeaturesServer = {
    getSupportedMethods: (_call, callback) => {
      this.calls.getSupportedMethods++;
      const methods = new SupportedMethods().setEventStoreServerVersion(SERVER_VERSION);
      for (const method of ['Read', 'Append', 'BatchAppend']) {
        methods.addMethods(new SupportedMethod().setServiceName(STREAMS_SERVICE).setMethodName(method));
      }
      callback(null, methods);
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
      const position = new AppendResp.Position()
        .setCommitPosition(outcome.commitPosition.toString())
        .setPreparePosition(outcome.preparePosition.toString());
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
      const position = new AllStreamPosition()
        .setCommitPosition(outcome.commitPosition.toString())
        .setPreparePosition(outcome.preparePosition.toString());
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
  const fake = new FakeEsdbServer({ batchAppend: options.batchAppend ?? true });
  const server = new grpc.Server();
  server.addService(StreamsService, fake.streams);
  if (fake.options.batchAppend) server.addService(ServerFeaturesService, fake.features);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
  });
  return {
    connectionString: `esdb://127.0.0.1:${port}?tls=false`,
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

// The attacker of the socket-flood figure, in a process of its own so its CPU is not the bench's:
// one authenticated socket.io client emitting joinOrder with random order ids as fast as it can,
// reconnecting at once whenever it is dropped or refused. Prints one JSON line of counts on exit.
import { randomUUID } from 'node:crypto';
import { io as connect } from 'socket.io-client';

const url = process.env.FLOOD_URL ?? '';
const token = process.env.FLOOD_TOKEN ?? '';
const seconds = Number(process.env.FLOOD_SECONDS ?? '10');
if (!url.startsWith('http://127.0.0.1:') || !token) throw new Error('FLOOD_URL (loopback) and FLOOD_TOKEN are required');

const counts = { sent: 0, acks: {} as Record<string, number>, connects: 0, refusedConnects: {} as Record<string, number>, disconnects: {} as Record<string, number> };
const bump = (map: Record<string, number>, key: string): void => {
  map[key] = (map[key] ?? 0) + 1;
};

const socket = connect(url, { transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false, timeout: 5000, autoConnect: false });
let stopping = false;

socket.on('connect', () => {
  counts.connects += 1;
  if (counts.connects === 1) process.stdout.write('connected\n');
});
socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
  bump(counts.refusedConnects, error.data?.code ?? error.message);
  if (!stopping) setImmediate(() => socket.connect());
});
socket.on('disconnect', (reason) => {
  bump(counts.disconnects, reason);
  if (!stopping) setImmediate(() => socket.connect());
});

// Emits in batches, yielding between them so acks and reconnects are processed; only while
// connected and while the transport keeps up, so the client's own buffers stay bounded.
function flood(): void {
  if (stopping) return;
  const engine = socket.io.engine as { writeBuffer?: unknown[] } | undefined;
  if (socket.connected && (engine?.writeBuffer?.length ?? 0) < 1000) {
    for (let i = 0; i < 100; i++) {
      counts.sent += 1;
      socket.emit('joinOrder', { orderId: randomUUID() }, (ack: { ok: boolean; error?: { code: string } }) => bump(counts.acks, ack.ok ? 'OK' : (ack.error?.code ?? '?')));
    }
  }
  setImmediate(flood);
}

socket.connect();
flood();
setTimeout(() => {
  stopping = true;
  socket.disconnect();
  const cpu = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ ...counts, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
  process.exit(0);
}, seconds * 1000);

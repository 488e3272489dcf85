import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, name = 'order-ledger'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["stripe-signature"]',
        'req.headers["paypal-transmission-sig"]',
        '*.password',
        '*.passwordHash',
        '*.token',
        '*.clientSecret',
        '*.secret',
      ],
      censor: '[redacted]',
    },
  });
}

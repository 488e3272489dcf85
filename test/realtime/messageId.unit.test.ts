import { ConfigError, loadConfig } from '../../src/infra/config/config';
import { messageIdFor } from '../../src/infra/mail/mailer';

describe('email Message-ID', () => {
  it('when MAIL_FROM has a display name or none, then the Message-ID is the event id at the sender domain', () => {
    const eventId = '0b7f1c52-5a8e-4b8e-9d55-3e1b2a6c7d90';
    expect(messageIdFor(eventId, 'order-ledger <no-reply@order-ledger.local>')).toBe(`<${eventId}@order-ledger.local>`);
    expect(messageIdFor(eventId, '"Shop, Inc." <orders@shop.example> ')).toBe(`<${eventId}@shop.example>`);
    expect(messageIdFor(eventId, 'orders@mail.shop.example')).toBe(`<${eventId}@mail.shop.example>`);
  });

  it('when MAIL_FROM has no address with a domain, then start-up stops naming the variable', () => {
    expect(() => loadConfig({ MAIL_FROM: 'order-ledger' })).toThrow(ConfigError);
    expect(() => loadConfig({ MAIL_FROM: 'order-ledger <no-reply@>' })).toThrow(/MAIL_FROM/);
  });

  it('when EMAIL_RECONCILE_INTERVAL_MS is not a sane interval, then start-up stops naming it', () => {
    expect(loadConfig({}).EMAIL_RECONCILE_INTERVAL_MS).toBe(60_000);
    expect(() => loadConfig({ EMAIL_RECONCILE_INTERVAL_MS: '5' })).toThrow(/EMAIL_RECONCILE_INTERVAL_MS/);
    expect(() => loadConfig({ EMAIL_RECONCILE_INTERVAL_MS: 'soon' })).toThrow(/EMAIL_RECONCILE_INTERVAL_MS/);
  });
});

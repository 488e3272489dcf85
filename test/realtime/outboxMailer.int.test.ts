import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/infra/config/config';
import { createMailer } from '../../src/infra/mail/mailer';
import { silentLogger } from '../support/ledgerHarness';

const email = (eventId: string) => ({ subject: 'Order placed', text: 'hello', html: '<p>hello</p>', to: 'outbox@example.test', eventId });

describe('outbox mailer (no SMTP_URL)', () => {
  let parent: string;
  beforeAll(async () => {
    parent = await mkdtemp(path.join(os.tmpdir(), 'ol-outbox-'));
  });
  afterAll(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it('when its directory is missing at the first send or removed later, then it makes it and the .eml file is written', async () => {
    const outbox = path.join(parent, 'nested', 'outbox');
    const mailer = createMailer(loadConfig({ MAIL_OUTBOX_DIR: outbox }), silentLogger);
    try {
      const first = await mailer.send(email('00000000-0000-4000-8000-000000000001'));
      expect(first.file && path.dirname(first.file)).toBe(outbox);
      await rm(outbox, { recursive: true });
      await expect(stat(outbox)).rejects.toMatchObject({ code: 'ENOENT' });

      const second = await mailer.send(email('00000000-0000-4000-8000-000000000002'));
      const third = await mailer.send(email('00000000-0000-4000-8000-000000000003'));
      expect((await readdir(outbox)).sort()).toEqual([second.file, third.file].map((f) => path.basename(f!)).sort());
    } finally {
      mailer.close();
    }
  });
});

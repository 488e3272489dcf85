/** The domain of the sender's address (`MAIL_FROM`, with or without a display name). */
export function senderDomain(mailFrom: string): string | undefined {
  const address = /<([^<>]*)>\s*$/.exec(mailFrom)?.[1] ?? mailFrom;
  return /@([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)\s*$/.exec(address.trim())?.[1];
}

// X-Routing-Key: a client's sticky routing key (a user or session id). Only a bounded, printable value is used;
// anything else routes like a request without a key.
export function routingKey(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && header.length > 0 && header.length <= 256 ? header : undefined;
}

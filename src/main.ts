// Process entry: read the environment, build the server, listen, load the models, drain on SIGTERM/SIGINT.
// Run node on this file directly in containers: `npm start` exits at once on SIGTERM, node drains.
import { randomBytes } from 'node:crypto';
import closeWithGrace from 'close-with-grace';
import pino from 'pino';
import { ConfigError, loadConfig, type Config } from './config/env.js';
import { buildServer } from './http/server.js';
import { mintToken } from './http/token.js';

function devTokenNotice(config: Config, token: string): string {
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return [
    '',
    'No JWT_SECRET, JWT_PUBLIC_KEY_FILE or JWKS_URL is set, so this development server signs tokens with a random secret.',
    'A token with scopes "predict admin", valid for one hour:',
    '',
    `  export TOKEN=${token}`,
    `  curl${config.tls ? ' --cacert <your CA or certificate>' : ''} -H "Authorization: Bearer $TOKEN" ${config.tls ? 'https' : 'http'}://${host}:${config.port}/v2/models/breast_cancer`,
    '',
    'Set JWT_SECRET (and use `npm run token`) for tokens that survive a restart. NODE_ENV=production refuses to start without it.',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ortserve: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  let devToken: string | undefined;
  if (!config.jwt.secret && !config.jwt.publicKeyFile && !config.jwt.jwksUrl) {
    if (config.production) {
      process.stderr.write('ortserve: NODE_ENV=production needs JWT_SECRET (HS256, 16+ characters), JWT_PUBLIC_KEY_FILE (RS256/ES256 public key in PEM) or JWKS_URL\n');
      process.exit(2);
    }
    config.jwt.secret = randomBytes(32).toString('base64url');
    devToken = mintToken({ secret: config.jwt.secret }, { sub: 'developer', scope: 'predict admin', expiresInSeconds: 3600, issuer: config.jwt.issuer, audience: config.jwt.audience });
  }

  const logger = pino({ level: config.logLevel, redact: { paths: ['req.headers.authorization', 'headers.authorization'], censor: '[redacted]' } });
  let app: Awaited<ReturnType<typeof buildServer>>;
  try {
    app = await buildServer(config, { logger });
  } catch (err) {
    // A bad key file or similar: one line naming the problem, not an unhandled-rejection stack trace.
    process.stderr.write(`ortserve: cannot start: ${(err as Error).message}\n`);
    process.exit(2);
  }

  closeWithGrace({ delay: config.shutdownTimeoutMs, logger: { error: (m: unknown) => logger.error(String(m)) } }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'closing after an uncaught error');
    else logger.info({ signal }, 'shutting down: draining requests');
    app.ortserve.beginShutdown();
    // Fastify closes idle keep-alive connections once, when closing starts; a connection whose request was in
    // flight then stays open after its answer (keep-alive), and server.close() would wait for the client to hang
    // up until the grace period kills the process. Reap such connections as they go idle.
    const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
    try {
      await app.close();
    } finally {
      clearInterval(reaper);
    }
    logger.info('shutdown complete');
  });

  await app.listen({ host: config.host, port: config.port });
  if (app.ortserve.metricsServer) await app.ortserve.metricsServer.listen({ host: config.host, port: config.metricsPort });
  if (app.ortserve.adminServer) await app.ortserve.adminServer.listen({ host: config.host, port: config.adminPort });
  try {
    await app.ortserve.loaded;
  } catch (err) {
    process.stderr.write(`ortserve: cannot read the model repository ${config.modelRepository}: ${(err as Error).message}\n`);
    await app.close().catch(() => undefined);
    process.exit(2);
  }
  const models = app.ortserve.manager.list().map((m) => ({ model: m.name, versions: [...m.versions.values()].map((v) => `${v.label}:${v.state}`), ...(m.reason ? { reason: m.reason } : {}) }));
  logger.info({ models, repository: config.modelRepository }, 'models loaded');
  if (devToken) process.stdout.write(devTokenNotice(config, devToken));
}

void main();
